// etcd at the version k8s.io/kubernetes v1.34.4 requires (its watches report
// progress, which kwok's pod controller needs; Debian's 3.4 does not).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
