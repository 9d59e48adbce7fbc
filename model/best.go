package model

// Best returns the most probable digit of probs; ties go to the smaller digit.
func Best(probs [Classes]float32) int {
	return argmax(probs[:])
}
