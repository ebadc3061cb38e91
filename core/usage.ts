/**
 * The help screen. Every line of the seed's usage block appears here
 * verbatim and in order (typos included: the usage screen is the
 * contract); kcm's additions come after the seed's lines of each section.
 */

/** `kcm --version` prints `KCM ` and this. */
export const VERSION = "0.2.0";

const SEED_USAGE = `kcm.

Usage:
  kcm (-h | --help)
  kcm --version
  kcm cluster-init (--host-list=<list>|--all-hosts) [--kcm-cmd-list=<list>]
                   [--kcm-img=<img>] [--kcm-img-pol=<pol>] [--conf-dir=<dir>]
                   [--install-dir=<dir>] [--num-dp-cores=<num>]
                   [--num-cp-cores=<num>]
  kcm init [--conf-dir=<dir>] [--num-dp-cores=<num>] [--num-cp-cores=<num>]
  kcm discover [--conf-dir=<dir>]
  kcm describe [--conf-dir=<dir>]
  kcm reconcile [--conf-dir=<dir>] [--publish] [--interval=<seconds>]
  kcm isolate [--conf-dir=<dir>] --pool=<pool> <command> [-- <args> ...]
  kcm install [--install-dir=<dir>]
  kcm node-report [--conf-dir=<dir>] [--publish] [--interval=<seconds>]`;

const SEED_OPTIONS = `Options:
  -h --help             Show this screen.
  --version             Show version.
  --host-list=<list>    Comma seperated list of Kubernetes nodes to prepare
                        for KCM software.
  --all-hosts           Prepare all Kubernetes nodes for the KCM software.
  --kcm-cmd-list=<list> Comma seperated list of KCM sub-commands to run on
                        each host
                        [default: init,reconcile,install,discover,nodereport].
  --kcm-img=<img>       KCM Docker image [default: kcm].
  --kcm-img-pol=<pol>   Image pull policy for the KCM Docker image
                        [default: Never].
  --conf-dir=<dir>      KCM configuration directory [default: /etc/kcm].
  --install-dir=<dir>   KCM install directory [default: /opt/bin].
  --interval=<seconds>  Number of seconds to wait between rerunning.
                        If set to 0, will only run once. [default: 0]
  --num-dp-cores=<num>  Number of data plane cores [default: 4].
  --num-cp-cores=<num>  Number of control plane cores [default: 1].
  --pool=<pool>         Pool name: either infra, controlplane or dataplane.
  --publish             Whether to publish reports to the Kubernetes
                        API server.`;

const EXTRA_USAGE = `
  kcm init ... [--keep-existing] [--ignore-isolcpus] [--dp-mode=<mode>]
               [--cp-mode=<mode>]
  kcm isolate [--conf-dir=<dir>] [--no-affinity] --pool=<pool>
              [--cores=<n>] [--numa-node=<n> | --socket-id=<n>]
              <command> [-- <args> ...]
  kcm cluster-init ... [--timeout=<seconds>] [--namespace=<ns>] [--webhook]
                   [<connection options>]
  kcm discover ... [--interval=<seconds>] [<connection options>]
  kcm reconcile ... [--heartbeat=<seconds>] [--metrics-listen=<addr:port>]
                [<connection options>]
  kcm node-report ... [--heartbeat=<seconds>] [--metrics-listen=<addr:port>]
                  [<connection options>]
  kcm uninstall [--conf-dir=<dir>] [--install-dir=<dir>] [--force] [--local]
                [<connection options>]
  kcm cluster-uninstall (--host-list=<list>|--all-hosts) [--kcm-img=<img>]
                        [--kcm-img-pol=<pol>] [--conf-dir=<dir>]
                        [--install-dir=<dir>] [--timeout=<seconds>]
                        [--namespace=<ns>] [--force] [--delete-crds]
                        [<connection options>]
  kcm webhook [--conf-dir=<dir>] [--install-dir=<dir>] --tls-cert=<file>
              --tls-key=<file> [--listen=<addr:port>]`;

const EXTRA_OPTIONS = `
  --ignore-isolcpus     Plan the pools as if no CPU were isolated (init).
  --dp-mode=<mode>      Order of the data plane cores: packed (fill one NUMA
                        node first) or spread (round robin over the NUMA
                        nodes) [default: packed].
  --cp-mode=<mode>      Order of the control plane cores, as --dp-mode
                        [default: packed].
  --no-affinity         Record the allocation and set KCM_CPUS_ASSIGNED
                        without pinning the command (isolate).
  --cores=<n>           Number of cpu lists to claim in an exclusive pool, on
                        one NUMA node when one can hold them (isolate)
                        [default: $KCM_NUM_CORES, else 1].
  --numa-node=<n>       Claim only lists on NUMA node <n> (isolate).
  --socket-id=<n>       Claim only lists on socket <n> (isolate).
  --timeout=<seconds>   How long cluster-init waits for its pods
                        [default: 600].
  --namespace=<ns>      Namespace for cluster-init's pods and DaemonSet
                        [default: the one kcm runs in, else default].
  --heartbeat=<seconds> With --interval and --publish, rewrite an unchanged
                        report at most this often [default: 300].
  --metrics-listen=<addr:port>
                        With --interval, serve Prometheus metrics on
                        http://<addr:port>/metrics (e.g. :9102).
  --keep-existing       Accept an existing config directory that has the
                        requested layout; another layout is an error (init).
  --force               Uninstall even while tasks hold cpu lists; with
                        cluster-uninstall also remove kcm's cluster objects
                        when some nodes could not be cleaned.
  --local               Only remove the node's files, not kcm's capacity,
                        label, taint and reports (uninstall).
  --delete-crds         Also delete the NodeReport and ReconcileReport CRDs,
                        and so every report (cluster-uninstall).
  --webhook             Also deploy kcm's admission webhook, with a CA and
                        serving certificate of its own (cluster-init).
  --tls-cert=<file>     PEM certificate (chain) the webhook serves; re-read
                        when the file changes.
  --tls-key=<file>      PEM private key of --tls-cert.
  --listen=<addr:port>  Where the webhook serves HTTPS [default: 0.0.0.0:8443].

Connection options (commands that talk to the Kubernetes API):
  --kubeconfig=<file>   Use this kubeconfig only [default: KUBECONFIG's
                        files merged, else in-cluster, else ~/.kube/config].
  --context=<name>      Use this kubeconfig context [default: the current].
  --insecure-http       Allow a plain http:// API server (test clusters).

Environment:
  KCM_LOG_LEVEL         CRITICAL, ERROR, WARNING, INFO or DEBUG
                        [default: INFO].
  KCM_LOCK_TIMEOUT      Seconds to wait for the config lock [default: 30].
  KCM_NUM_CORES         Default of isolate's --cores.
  KCM_PROC_FS           procfs to read pids and affinity from
                        [default: /proc].
  KCM_SYS_FS            sysfs to read the CPU topology from [default: /sys].
  NODE_NAME             Kubernetes node name [default: the host name].
  KUBECONFIG            Kubeconfig files, ":"-separated, merged like kubectl
                        merges them.

Exit status: 0 on success, 1 on a runtime error, 2 on a usage error;
isolate exits with its command's status (128+N if killed by signal N).`;

/** The whole help screen, without a trailing newline. */
export const HELP = `${SEED_USAGE}${EXTRA_USAGE}

${SEED_OPTIONS}${EXTRA_OPTIONS}`;

/** The `Usage:` section alone, printed after a usage error. */
export const USAGE_SECTION = HELP.slice(
  HELP.indexOf("Usage:"),
  HELP.indexOf("\n\nOptions:"),
);
