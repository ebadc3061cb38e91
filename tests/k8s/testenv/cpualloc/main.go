// Command cpualloc replays CPU requests through the kubelet's static CPU
// manager policy, the way a kubelet with the Topology Manager places
// exclusive CPUs; bench/kubelet_compare.ts drives it. Test tooling only.
//
// Input (stdin, one JSON document):
//
//	{"cpus": [{"id": 0, "core": 0, "socket": 0, "node": 0, "l3": 0}, ...],
//	 "requests": [{"op": "claim", "id": "r1", "cpus": 4},
//	              {"op": "release", "id": "r1"}, ...]}
//
// Output (stdout): one JSON line per claim, {"id": "r1", "cpus": "0-3"} or
// {"id": "r1", "error": "..."}, in request order.
//
// The kubelet is given its best placement: the static policy with the
// options full-pcpus-only (whole cores only) and
// prefer-align-cpus-by-uncorecache (pack into one L3 when possible), and,
// in front of it, the Topology Manager's best-effort policy: for each
// container the policy's NUMA hints are merged exactly as the kubelet
// merges them (narrowest preferred NUMA mask) and the merged hint is what
// Allocate sees. Nothing is reserved for the system: like kcm's pool, all
// CPUs can be allocated. State is in memory.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubernetes/pkg/kubelet/cm/cpumanager"
	"k8s.io/kubernetes/pkg/kubelet/cm/cpumanager/state"
	"k8s.io/kubernetes/pkg/kubelet/cm/cpumanager/topology"
	"k8s.io/kubernetes/pkg/kubelet/cm/topologymanager"
	"k8s.io/utils/cpuset"
)

type cpu struct {
	ID     int `json:"id"`
	Core   int `json:"core"`
	Socket int `json:"socket"`
	Node   int `json:"node"`
	L3     int `json:"l3"`
}

type request struct {
	Op   string `json:"op"`
	ID   string `json:"id"`
	CPUs int    `json:"cpus"`
}

type input struct {
	CPUs     []cpu     `json:"cpus"`
	Requests []request `json:"requests"`
}

type result struct {
	ID    string `json:"id"`
	CPUs  string `json:"cpus,omitempty"`
	Error string `json:"error,omitempty"`
}

// hintStore is the Topology Manager as the CPU manager sees it: it hands
// out the hint merged for the container being admitted.
type hintStore struct {
	hint   topologymanager.TopologyHint
	policy topologymanager.Policy
}

func (s *hintStore) GetAffinity(string, string) topologymanager.TopologyHint {
	return s.hint
}
func (s *hintStore) GetPolicy() topologymanager.Policy { return s.policy }
func (s *hintStore) Name() string                      { return "container" }

func buildTopology(cpus []cpu) *topology.CPUTopology {
	details := topology.CPUDetails{}
	cores, sockets, nodes, l3s := map[int]bool{}, map[int]bool{}, map[int]bool{}, map[int]bool{}
	for _, c := range cpus {
		details[c.ID] = topology.CPUInfo{
			NUMANodeID:    c.Node,
			SocketID:      c.Socket,
			CoreID:        c.Core,
			UncoreCacheID: c.L3,
		}
		cores[c.Core], sockets[c.Socket], nodes[c.Node], l3s[c.L3] = true, true, true, true
	}
	return &topology.CPUTopology{
		NumCPUs:        len(cpus),
		NumCores:       len(cores),
		NumUncoreCache: len(l3s),
		NumSockets:     len(sockets),
		NumNUMANodes:   len(nodes),
		CPUDetails:     details,
	}
}

// guaranteedPod is a Guaranteed-QoS pod with one container asking for n CPUs.
func guaranteedPod(uid string, n int) *v1.Pod {
	amounts := v1.ResourceList{
		v1.ResourceCPU:    *resource.NewQuantity(int64(n), resource.DecimalSI),
		v1.ResourceMemory: resource.MustParse("64Mi"),
	}
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: uid, UID: types.UID(uid)},
		Spec: v1.PodSpec{Containers: []v1.Container{{
			Name:      "c",
			Resources: v1.ResourceRequirements{Requests: amounts, Limits: amounts},
		}}},
	}
}

func run() error {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return fmt.Errorf("cannot parse the input: %w", err)
	}
	logger := logr.Discard()
	topo := buildTopology(in.CPUs)
	nodes := topo.CPUDetails.NUMANodes().List()
	tmOptions, err := topologymanager.NewPolicyOptions(logger, nil)
	if err != nil {
		return err
	}
	store := &hintStore{policy: topologymanager.NewBestEffortPolicy(
		&topologymanager.NUMAInfo{Nodes: nodes, NUMADistances: topologymanager.NUMADistances{}},
		tmOptions,
	)}
	policy, err := cpumanager.NewStaticPolicy(logger, topo, 0, cpuset.New(), store, map[string]string{
		cpumanager.FullPCPUsOnlyOption:            "true",
		cpumanager.PreferAlignByUnCoreCacheOption: "true",
	})
	if err != nil {
		return err
	}
	st := state.NewMemoryState(logger)
	if err := policy.Start(logger, st); err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	encoder := json.NewEncoder(out)
	for _, r := range in.Requests {
		switch r.Op {
		case "release":
			if err := policy.RemoveContainer(logger, st, r.ID, "c"); err != nil {
				return err
			}
		case "claim":
			pod := guaranteedPod(r.ID, r.CPUs)
			container := &pod.Spec.Containers[0]
			hints := policy.GetTopologyHints(logger, st, pod, container)
			store.hint, _ = store.policy.Merge(logger, []map[string][]topologymanager.TopologyHint{hints})
			res := result{ID: r.ID}
			if err := policy.Allocate(logger, st, pod, container); err != nil {
				res.Error = err.Error()
			} else if cpus, ok := st.GetCPUSet(r.ID, "c"); ok {
				res.CPUs = cpus.String()
			} else {
				res.Error = "no CPUs recorded"
			}
			if err := encoder.Encode(res); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown op %q", r.Op)
		}
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cpualloc:", err)
		os.Exit(1)
	}
}
