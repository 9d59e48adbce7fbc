// Package k8s renders the Kubernetes manifests beside it (a kustomize base
// and its overlays) with kustomize's Go API and decodes each object
// strictly into the k8s.io/api types, so that the tests of package deploy
// and of package main can check the manifests without a cluster.
package k8s

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// ErrUnknownKind is returned for an object whose kind Render has no type for.
var ErrUnknownKind = errors.New("unknown kind")

// Objects are the objects of one rendered overlay, by kind.
type Objects struct {
	Namespaces      []corev1.Namespace
	Secrets         []corev1.Secret
	Services        []corev1.Service
	Deployments     []appsv1.Deployment
	StatefulSets    []appsv1.StatefulSet
	HPAs            []autoscalingv2.HorizontalPodAutoscaler
	PDBs            []policyv1.PodDisruptionBudget
	NetworkPolicies []networkingv1.NetworkPolicy
	Ingresses       []networkingv1.Ingress
}

// Overlays returns the folders under root/overlays, sorted.
func Overlays(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "overlays"))
	if err != nil {
		return nil, fmt.Errorf("list overlays: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(root, "overlays", e.Name()))
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}

// Render builds the kustomization in dir, as `kubectl kustomize dir` would,
// and decodes every object it yields. A field the API type lacks, a kind
// without a type here, or a kustomize error fails it.
func Render(dir string) (*Objects, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	var objs Objects
	for _, r := range resources.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", dir, r.GetKind(), r.GetName(), err)
		}
		if err := objs.add(r.GetKind(), y); err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", dir, r.GetKind(), r.GetName(), err)
		}
	}
	return &objs, nil
}

// add decodes y, an object of kind, strictly into its type.
func (o *Objects) add(kind string, y []byte) error {
	switch kind {
	case "Namespace":
		return decodeInto(y, &o.Namespaces)
	case "Secret":
		return decodeInto(y, &o.Secrets)
	case "Service":
		return decodeInto(y, &o.Services)
	case "Deployment":
		return decodeInto(y, &o.Deployments)
	case "StatefulSet":
		return decodeInto(y, &o.StatefulSets)
	case "HorizontalPodAutoscaler":
		return decodeInto(y, &o.HPAs)
	case "PodDisruptionBudget":
		return decodeInto(y, &o.PDBs)
	case "NetworkPolicy":
		return decodeInto(y, &o.NetworkPolicies)
	case "Ingress":
		return decodeInto(y, &o.Ingresses)
	}
	return fmt.Errorf("%w %q: add its type to package k8s", ErrUnknownKind, kind)
}

// decodeInto decodes y strictly (unknown or duplicate fields fail) and
// appends it to list.
func decodeInto[T any](y []byte, list *[]T) error {
	var v T
	if err := yaml.UnmarshalStrict(y, &v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	*list = append(*list, v)
	return nil
}

// AppDeployments returns the Deployments whose containers run image (the
// app's image, whatever registry and tag an overlay gives it).
func (o *Objects) AppDeployments(image string) []appsv1.Deployment {
	var out []appsv1.Deployment
	for _, d := range o.Deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if ImageName(c.Image) == image {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// ImageName strips the registry path, the tag and the digest from an image
// reference: registry.example/team/mnist-app:1.0 is mnist-app.
func ImageName(ref string) string {
	name := ref
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	return name
}
