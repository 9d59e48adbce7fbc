package train

import (
	"context"
	"fmt"
	"strings"

	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
)

// ConfusionMatrix counts test images by true digit (row) and predicted
// digit (column).
type ConfusionMatrix [model.Classes][model.Classes]int

// Accuracy returns the share of images on the diagonal.
func (m *ConfusionMatrix) Accuracy() float64 {
	var right, all int
	for i := range m {
		for j, c := range m[i] {
			all += c
			if i == j {
				right += c
			}
		}
	}
	if all == 0 {
		return 0
	}
	return float64(right) / float64(all)
}

func (m *ConfusionMatrix) String() string {
	var b strings.Builder
	b.WriteString("confusion matrix (rows: true digit, columns: predicted)\n     ")
	for j := range m[0] {
		fmt.Fprintf(&b, "%6d", j)
	}
	b.WriteString("\n")
	for i := range m {
		fmt.Fprintf(&b, "%4d ", i)
		for _, c := range m[i] {
			fmt.Fprintf(&b, "%6d", c)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Confusion classifies every image of set with p and tallies the answers.
func Confusion(ctx context.Context, p *model.Predictor, set *mnist.Set) (*ConfusionMatrix, error) {
	var m ConfusionMatrix
	const chunk = 512
	imgs := make([][]byte, 0, chunk)
	for lo := 0; lo < set.Len(); lo += chunk {
		hi := min(set.Len(), lo+chunk)
		imgs = imgs[:0]
		for i := lo; i < hi; i++ {
			imgs = append(imgs, set.Image(i))
		}
		probs, err := p.Predict(ctx, imgs)
		if err != nil {
			return nil, err
		}
		for i, pr := range probs {
			m[set.Labels[lo+i]][model.Best(pr)]++
		}
	}
	return &m, nil
}

// Accuracy returns the share of set that p classifies right.
func Accuracy(ctx context.Context, p *model.Predictor, set *mnist.Set) (float64, error) {
	m, err := Confusion(ctx, p, set)
	if err != nil {
		return 0, err
	}
	return m.Accuracy(), nil
}
