//go:build tools

// The Kubernetes control plane jhpolicy's tests run against, pinned here and
// built by ./dev into .tools/k8s/bin (see docs/development.md).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
