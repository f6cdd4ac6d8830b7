// kubectl for the tutorial tests (tests/test_tutorials.py), built by ./dev
// into .tools/k8s/bin from the k8s.io/kubectl module at the control plane's
// version. This is k8s.io/kubernetes/cmd/kubectl's main: that package cannot
// be built from tools/k8s, whose k8s.io/kubernetes requirement does not
// carry kubectl's own dependencies (kustomize and others).
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
