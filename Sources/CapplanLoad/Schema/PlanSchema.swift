/// Plan format v1. Every key a plan may hold is listed here, with its type, default and meaning.
public enum PlanSchema {
    public static let apiVersion = "capplan/v1"
    public static let kind = "CapturePlan"
    /// Pinned so that a plan captures with the same tools every time it runs.
    public static let defaultHelperImage = "docker.io/nicolaka/netshoot:v0.13"

    public static let events = ["reset", "refused", "unanswered-syn", "icmp-unreachable", "dns-failure", "handshake"]
    public static let stopEvents = ["reset", "refused", "unanswered-syn", "icmp-unreachable", "dns-failure"]

    public static let root = SchemaObject("plan", "A capture plan: what to capture where, what to drive meanwhile, what to keep, and what the run should find.", [
        SchemaField("apiVersion", .word([apiVersion]), required: true, "The plan format version."),
        SchemaField("kind", .word([kind]), required: true, "Always CapturePlan."),
        SchemaField("metadata", .object(metadata), required: true, "Names the plan."),
        SchemaField("target", .object(target), required: true, "Where to capture: a Kubernetes cluster or this machine."),
        SchemaField("pods", .list(.object(pod), minItems: 1), "The pods whose traffic matters. On a local target, network namespaces."),
        SchemaField("interfaces", .either([.word(["pods", "any", "path"]), .object(pathInterfaces), .list(.string(.interfaceName), minItems: 1)]),
                    defaultNote: "pods when pods are given, else any",
                    "pods: the pods' host-side veths; path: each pod's veth and its node's uplinks (the interfaces of the node's "
                        + "routes toward the far end), to tell which box sent a packet; any: every interface of the node; or a list of interface names."),
        SchemaField("capture", .object(capture), "What to capture and for how long."),
        SchemaField("reproduce", .list(.object(reproduceStep), minItems: 1), "Commands that drive the failing traffic while the capture runs."),
        SchemaField("stop", .object(stop), "End the capture early once the fault has been seen."),
        SchemaField("redact", .either([.word(["none"]), .object(redact)]), defaultNote: "payload: drop",
                    "What to remove before anything reaches disk. none keeps every byte (say so on purpose)."),
        SchemaField("expect", .list(.object(expectation), minItems: 1), "What the run should (or should not) observe; decides the verdict and the exit code."),
        SchemaField("output", .object(output), "Where the run's files go."),
    ])

    static let metadata = SchemaObject("metadata", "Names the plan.", [
        SchemaField("name", .string(.dnsLabel), required: true, "The plan's name, a DNS-1123 label; used in the output directory and in labels on anything capplan creates."),
        SchemaField("description", .string(.text), "The question this plan answers, in one sentence."),
    ])

    static let target = SchemaObject("target", "Where to capture.", exactlyOne: ["kubernetes", "local"], [
        SchemaField("kubernetes", .object(kubernetes), "Capture on Kubernetes nodes through kubectl."),
        SchemaField("local", .object(local), "Capture on this machine; pods are network namespaces."),
        SchemaField("node", .string(.dnsSubdomain), defaultNote: "the node of the pods", "The node to capture on (Kubernetes only)."),
        SchemaField("isolate", .word(["cordon-others", "none"]), default: "none",
                    "cordon-others: cordon every other schedulable node while the plan runs, and uncordon exactly those afterwards."),
    ])

    static let kubernetes = SchemaObject("kubernetes", "How to reach the cluster. Credentials stay in the kubeconfig, never in the plan.", [
        SchemaField("context", .string(.text), defaultNote: "kubectl's current context", "The kubeconfig context to use."),
        SchemaField("kubeconfig", .string(.path), defaultNote: "kubectl's default", "Path of the kubeconfig file."),
        SchemaField("namespace", .string(.dnsLabel), default: "default", "The namespace of pods that do not name their own."),
        SchemaField("helperNamespace", .string(.dnsLabel), default: "capplan-system", "Where the capture helper pod runs."),
    ])

    static let local = SchemaObject("local", "This machine, or a network namespace on it that plays the node (a lab).", example: "local: {}", [
        SchemaField("netns", .string(.dnsSubdomain), defaultNote: "the namespace capplan runs in",
                    "Capture inside this network namespace: the node whose interfaces the pods' veths are."),
    ])

    static let pathInterfaces = SchemaObject("interfaces (path)", """
        Capture at every point of the pods' path, to tell which box sent a packet: each pod's host-side veth, and \
        each of its node's uplinks (the interface of the node's route toward a far end). capplan follows every SYN, \
        SYN-ACK, FIN, RST and ICMP error across the points (matched by the fields NAT leaves alone) and names who made \
        it: the pod, a node (a firewall, kube-proxy, conntrack), something outside, or the network between nodes. \
        `interfaces: path` alone leads toward the addresses `expect` and `stop` name and the plan's pods on other nodes.
        """,
                                             example: "interfaces: {path: {toward: [203.0.113.12]}}", [
        SchemaField("path", .object(path), required: true, "Each pod's veth and its node's uplinks."),
    ])

    static let path = SchemaObject("path", "Capture at every point on the pods' path: each pod's veth and its node's uplinks.",
                                   example: "interfaces: {path: {toward: [203.0.113.12]}}", [
        SchemaField("toward", .list(.string(.cidr), minItems: 1),
                    defaultNote: "the addresses the plan's expect and stop name, and the plan's pods on other nodes",
                    "Far ends (single addresses): each node's uplink is the interface of its route toward each of them."),
    ])

    static let pod = SchemaObject("pod", "One pod by name, or every pod a label selector matches.", exactlyOne: ["name", "selector"], [
        SchemaField("name", .string(.dnsSubdomain), "The pod's name (on a local target: the network namespace's name)."),
        SchemaField("selector", .string(.labelSelector), "A label selector, as kubectl -l takes it: app=x,tier!=db, env in (a,b), !canary."),
        SchemaField("namespace", .string(.dnsLabel), defaultNote: "target.kubernetes.namespace", "The pod's namespace."),
        SchemaField("container", .string(.dnsLabel), defaultNote: "the pod's first container", "The container to read eth0's peer index from."),
    ])

    static let capture = SchemaObject("capture", "What to capture and the limits of the capture.", [
        SchemaField("filter", .string(.bpf), default: "", defaultNote: "every packet", "A BPF filter as tcpdump takes it, compiled by libpcap when the plan is loaded."),
        SchemaField("duration", .duration(.seconds(1)...PlanDuration.seconds(86_400)), default: "60s", "How long to capture at most."),
        SchemaField("maxPackets", .integer(1...1_000_000_000), "Stop after this many packets."),
        SchemaField("maxBytes", .size, "Stop after this many captured bytes."),
        SchemaField("snaplen", .integer(1...262_144), default: "262144", "Bytes kept of each packet."),
        SchemaField("bufferSize", .size, defaultNote: "8MiB on this machine; tcpdump's own (2MiB) in a helper",
                    "The kernel's capture buffer per interface. Too small for the traffic, the kernel drops packets: the run counts them, "
                        + "and a verdict that rests on something not being seen becomes INCONCLUSIVE."),
        SchemaField("keep", .object(keep), defaultNote: "every packet",
                    "Keep only the packets around each event (a long run for an intermittent fault): the rest wait in a ring in memory and are discarded."),
        SchemaField("image", .string(.image), default: defaultHelperImage, "The helper pod's image; it needs ip and tcpdump."),
        SchemaField("privileged", .boolean, default: "false", "Run the helper privileged instead of with NET_ADMIN and NET_RAW only."),
    ])

    static let keep = SchemaObject("keep", """
        Keep only the windows around each event. Every packet is analysed; those of the last `before` wait in a \
        ring in memory, and an event writes them and every packet for `after` more. An event inside an open \
        window extends it. The run ends once `windows` windows have closed (or at `duration`); run.json and \
        summary.md say what was kept and what was discarded, and a pcapng comments each event's packet.
        """, example: "keep: {around: reset, from: external, before: 5s, after: 2s, windows: 20}", [
        SchemaField("around", .word(stopEvents), required: true, "The event whose surroundings are kept."),
        SchemaField("from", .string(.peer), "Only that event sent by this peer (as in expect)."),
        SchemaField("before", .duration(PlanDuration(milliseconds: 0)...PlanDuration.seconds(3600)), default: "5s", "Packets kept from before each event."),
        SchemaField("after", .duration(PlanDuration(milliseconds: 0)...PlanDuration.seconds(3600)), default: "2s", "Packets kept after each event."),
        SchemaField("windows", .integer(1...100_000), default: "10", "Windows kept at most; the run ends when the last one closes."),
        SchemaField("memory", .size, default: "64MiB",
                    "The ring's bound (packet bytes and bookkeeping, all capture points together); past it the oldest packets go first, "
                        + "and a window that lost its start says so."),
    ])

    static let reproduceStep = SchemaObject("reproduce step", "A command started at an offset from the capture's start.", exactlyOne: ["exec", "local"], [
        SchemaField("at", .duration(PlanDuration(milliseconds: 0)...PlanDuration.seconds(86_400)), default: "0s", "When to start, from the start of the capture."),
        SchemaField("exec", .object(execInPod), "Run in a pod through kubectl exec."),
        SchemaField("local", .object(localCommand), "Run on this machine, optionally inside a network namespace."),
        SchemaField("timeout", .duration(.seconds(1)...PlanDuration.seconds(86_400)), defaultNote: "the capture's duration", "Stop the command after this long."),
    ])

    static let execInPod = SchemaObject("exec", "A command in a pod's container.", [
        SchemaField("pod", .string(.podReference), required: true, "NAME or NAMESPACE/NAME."),
        SchemaField("container", .string(.dnsLabel), "The container; default: the pod's first."),
        SchemaField("command", .list(.string(.text), minItems: 1), required: true, "The command as an argv list; never run through a shell."),
    ])

    static let localCommand = SchemaObject("local command", "A command on this machine.", [
        SchemaField("netns", .string(.dnsSubdomain), "The network namespace to run it in."),
        SchemaField("command", .list(.string(.text), minItems: 1), required: true, "The command as an argv list; never run through a shell."),
    ])

    static let stop = SchemaObject("stop", "Ends the capture early once the fault has been seen.", [
        SchemaField("when", .word(stopEvents), required: true, "The event that ends the capture."),
        SchemaField("from", .string(.peer), "Only that event sent by this peer."),
        SchemaField("grace", .duration(PlanDuration(milliseconds: 0)...PlanDuration.seconds(3600)), default: "2s", "Keep capturing this long after the event."),
    ])

    static let redact = SchemaObject("redact", "Applied to every packet before anything reaches disk.", [
        SchemaField("payload", .either([.word(["keep", "drop"]), .object(truncate)]), default: "drop",
                    "keep; drop (headers up to TCP/UDP/ICMP stay); or truncate: N bytes of payload."),
        SchemaField("addresses", .word(["keep", "pseudonymize"]), default: "keep", "pseudonymize: prefix-preserving Crypto-PAn on IPv4 and IPv6."),
        SchemaField("keepNetworks", .list(.string(.cidr), minItems: 1), "Address blocks left as they are when pseudonymizing."),
        SchemaField("macs", .word(["keep", "zero", "pseudonymize"]), default: "keep", "What to do with MAC addresses."),
        SchemaField("scrub", .list(.string(.regex), minItems: 1), "Regular expressions (PCRE2) masked in TCP and UDP payloads, byte for byte."),
        SchemaField("drop", .string(.bpf), "A BPF filter of packets to leave out entirely."),
        SchemaField("key", .object(secretSource), defaultNote: "a fresh random key per run", "Where the pseudonymization key comes from."),
        SchemaField("names", .word(["keep", "drop"]), default: "keep",
                    "Pod, Service and node names in a pcapng (name resolution, interface descriptions, packet comments); drop writes none of them."),
    ])

    static let truncate = SchemaObject("truncate", "Keep the first N bytes of each payload.", example: "payload: {truncate: 64}", [
        SchemaField("truncate", .integer(0...65_535), required: true, "Payload bytes kept per packet."),
    ])

    static let secretSource = SchemaObject("key", "A secret is named, never written: an environment variable or a file.", exactlyOne: ["env", "file"],
                                            example: "key: {env: CAPPLAN_KEY} or key: {file: /path/to/key}; a secret is never written in a plan", [
        SchemaField("env", .string(.environmentName), "The environment variable that holds the key."),
        SchemaField("file", .string(.path), "The file that holds the key."),
    ])

    static let expectation = SchemaObject("expectation", "One thing the run should see (seen) or must not see (notSeen).", exactlyOne: ["seen", "notSeen"], [
        SchemaField("seen", .word(events), "The run passes only if this event is observed."),
        SchemaField("notSeen", .word(events), "The run fails if this event is observed."),
        SchemaField("from", .string(.peer), "Who sent it (for handshake: the client): pods, pod:NAME, node, node:NAME, external, "
                        + "an address or a CIDR. With interfaces: path, who made the packet as the capture points tell, not whose address it carries."),
        SchemaField("to", .string(.peer), "Who received it (for handshake: the server)."),
        SchemaField("port", .integer(1...65_535), "The responder's port."),
        SchemaField("atLeast", .integer(1...1_000_000), default: "1", "How many times, at least (seen only)."),
    ])

    static let output = SchemaObject("output", "Where the run's files go.", [
        SchemaField("dir", .string(.outputTemplate), default: "runs/{name}/{time}", "The run directory; placeholders: {name}, {time}, {node}, {target}."),
        SchemaField("format", .word(["pcapng", "pcap"]), default: "pcapng",
                    "capture.pcapng: one interface per capture point with its name, names of the run's addresses, comments on the packets findings cite; "
                        + "pcap: capture.pcap, classic, one link type, no names."),
    ])

    /// A rules file for `capplan redact --rules`: the plan's `redact:` section on its own.
    public static let rulesFile = SchemaObject("rules file", "Redaction rules for capplan redact, written as in a plan.", [
        SchemaField("redact", .object(redact), required: true, "The rules, as in a plan's redact section."),
    ])

    /// Every object, for the docs, in the order a plan is read.
    public static let allObjects: [SchemaObject] = [
        root, metadata, target, kubernetes, local, pod, pathInterfaces, path, capture, keep, reproduceStep, execInPod, localCommand,
        stop, redact, truncate, secretSource, expectation, output,
    ]
}
