public import CapplanPackets

/// A validated capture plan: every value typed, every default applied.
/// Only the loader makes one, and only from a file without errors.
public struct Plan: Sendable, Codable, Equatable {
    public var name: String
    public var description: String?
    public var target: Target
    public var pods: [PodSelection]
    public var interfaces: InterfaceSelection
    public var capture: CaptureSettings
    public var reproduce: [ReproduceStep]
    public var stop: StopCondition?
    public var redaction: Redaction
    public var expectations: [Expectation]
    public var outputDirectory: String
    /// How the run's capture file is written (`output.format`).
    public var outputFormat: CaptureFileFormat
}

/// The run's capture file: pcapng (a block per capture point, names, comments) or classic pcap.
public enum CaptureFileFormat: String, Sendable, Codable, Equatable, CaseIterable {
    case pcapng, pcap

    /// Its name in the run directory.
    public var fileName: String { "capture.\(rawValue)" }
}

public struct Target: Sendable, Codable, Equatable {
    public enum Kind: Sendable, Codable, Equatable {
        case kubernetes(KubernetesAccess)
        /// This machine; `netns` names the namespace that plays the node, if any.
        case local(netns: String?)
    }

    public var kind: Kind
    public var node: String?
    public var isolation: Isolation

    public var isKubernetes: Bool { if case .kubernetes = kind { true } else { false } }
    public var kubernetes: KubernetesAccess? { if case .kubernetes(let access) = kind { access } else { nil } }
    public var isLocal: Bool { if case .local = kind { true } else { false } }
}

public struct KubernetesAccess: Sendable, Codable, Equatable {
    public var context: String?
    public var kubeconfig: String?
    public var namespace: String
    public var helperNamespace: String
}

public enum Isolation: String, Sendable, Codable, Equatable {
    case cordonOthers = "cordon-others"
    case none
}

public struct PodSelection: Sendable, Codable, Hashable, CustomStringConvertible {
    public enum Match: Sendable, Codable, Hashable {
        case name(String)
        case selector(LabelSelector)
    }

    public var match: Match
    /// Nil on a local target, where pods are network namespaces.
    public var namespace: String?
    public var container: String?

    public var description: String {
        let prefix = namespace.map { "\($0)/" } ?? ""
        switch match {
        case .name(let name): return prefix + name
        case .selector(let selector): return "\(prefix){\(selector)}"
        }
    }
}

public enum InterfaceSelection: Sendable, Codable, Equatable {
    case pods
    case any
    case named([String])
    /// Every point on the pods' path: each pod's veth and its node's uplinks, the interfaces of
    /// the node's routes toward `toward` (empty: toward the far ends the plan names).
    case path(toward: [String])

    /// Whether each pod gets a capture stream of its own veth.
    public var capturesPodVeths: Bool {
        switch self {
        case .pods, .path: true
        case .any, .named: false
        }
    }
}

public struct CaptureSettings: Sendable, Codable, Equatable {
    public var filter: String
    public var duration: PlanDuration
    public var maxPackets: Int64?
    public var maxBytes: ByteSize?
    public var snaplen: Int
    /// The kernel's capture buffer per interface; nil: libpcap's 8 MiB here, tcpdump's default in a helper.
    public var bufferSize: ByteSize? = nil
    /// `capture.keep`: only the windows around an event reach the file; nil keeps every packet.
    public var keep: KeepWindows? = nil
    public var helperImage: String
    public var privileged: Bool
}

/// A long run that keeps only what matters: the last `before` of packets wait in a ring in memory
/// (at most `memory` bytes); an event of the kind `around` (from `from`) writes the ring's packets
/// since `before` ago, and every packet for `after` more. At most `windows` windows; the run ends
/// once the last one closes.
public struct KeepWindows: Sendable, Codable, Equatable {
    public var around: TrafficEvent
    public var from: Peer?
    public var before: PlanDuration
    public var after: PlanDuration
    public var windows: Int
    public var memory: ByteSize

    public init(around: TrafficEvent, from: Peer?, before: PlanDuration, after: PlanDuration, windows: Int, memory: ByteSize) {
        self.around = around
        self.from = from
        self.before = before
        self.after = after
        self.windows = windows
        self.memory = memory
    }

    /// The trigger, as the event watch of a stop condition reads it.
    public var trigger: StopCondition { StopCondition(when: around, from: from, grace: after) }
}

public struct ReproduceStep: Sendable, Codable, Equatable {
    public enum Action: Sendable, Codable, Equatable {
        case exec(pod: PodReference, container: String?, command: [String])
        case local(netns: String?, command: [String])
    }

    public var at: PlanDuration
    public var action: Action
    public var timeout: PlanDuration?
}

public enum TrafficEvent: String, Sendable, Codable, Equatable, CaseIterable {
    case reset
    case refused
    case unansweredSYN = "unanswered-syn"
    case icmpUnreachable = "icmp-unreachable"
    case dnsFailure = "dns-failure"
    case handshake

    /// A filter fragment that packets of this event must match, to tell
    /// whether the capture filter could ever see it.
    var packetClass: String {
        switch self {
        case .reset, .refused, .unansweredSYN, .handshake: "tcp"
        case .icmpUnreachable: "icmp or icmp6"
        case .dnsFailure: "port 53"
        }
    }
}

public struct StopCondition: Sendable, Codable, Equatable {
    public var when: TrafficEvent
    public var from: Peer?
    public var grace: PlanDuration
}

public struct Redaction: Sendable, Codable, Equatable {
    public enum Payload: Sendable, Codable, Equatable {
        case keep, drop
        case truncate(Int)
    }

    public enum Addresses: String, Sendable, Codable, Equatable { case keep, pseudonymize }
    public enum MACs: String, Sendable, Codable, Equatable { case keep, zero, pseudonymize }
    /// Names of pods, Services and nodes in a pcapng: kept (name resolution, interface descriptions,
    /// packet comments) or dropped (none of them is written).
    public enum Names: String, Sendable, Codable, Equatable { case keep, drop }

    public enum KeySource: Sendable, Codable, Equatable {
        case environment(String)
        case file(String)
        case random
    }

    /// `redact: none`: nothing is changed, on purpose.
    public var disabled: Bool
    public var payload: Payload
    public var addresses: Addresses
    public var keepNetworks: [CIDR]
    public var macs: MACs
    public var scrub: [String]
    public var dropFilter: String?
    public var key: KeySource
    public var names: Names = .keep

    public static let none = Redaction(disabled: true, payload: .keep, addresses: .keep, keepNetworks: [], macs: .keep,
                                       scrub: [], dropFilter: nil, key: .random)
}

public struct Expectation: Sendable, Codable, Equatable {
    /// True for `seen`, false for `notSeen`.
    public var shouldSee: Bool
    public var event: TrafficEvent
    public var from: Peer?
    public var to: Peer?
    public var port: Int?
    public var atLeast: Int
}
