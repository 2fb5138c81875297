internal import CapplanPackets

/// The semantic pass: from the schema-checked value tree to a `Plan`, checking
/// what needs more than one field to judge (BPF filters against the link type,
/// contradictions between sections, values that are valid but surely a mistake).
struct PlanBuilder {
    var log: DiagnosticLog

    mutating func build(_ root: CheckedValue) -> Plan? {
        let target = buildTarget(root["target"])
        let pods = buildPods(root["pods"], target: target)
        if let target, target.isolation == .cordonOthers, target.node == nil, pods.isEmpty, let isolate = root["target"]?["isolate"] {
            log.error("isolate: cordon-others needs target.node or pods, to know which node to keep schedulable",
                      at: isolate.mark, field: isolate.field)
        }
        let interfaces = buildInterfaces(root["interfaces"], pods: pods)
        let capture = buildCapture(root["capture"], interfaces: interfaces)
        let reproduce = buildReproduce(root["reproduce"], target: target, capture: capture)
        let stop = buildStop(root["stop"], capture: capture)
        let redaction = buildRedaction(root["redact"], interfaces: interfaces)
        let expectations = buildExpectations(root["expect"], capture: capture)

        guard !log.hasErrors, let name = root["metadata"]?["name"]?.string, let target, let capture else { return nil }
        return Plan(
            name: name,
            description: root["metadata"]?["description"]?.string,
            target: target,
            pods: pods,
            interfaces: interfaces.selection,
            capture: capture.settings,
            reproduce: reproduce,
            stop: stop,
            redaction: redaction,
            expectations: expectations,
            outputDirectory: root["output"]?["dir"]?.string ?? "runs/{name}/{time}",
            outputFormat: root["output"]?["format"]?.string.flatMap(CaptureFileFormat.init(rawValue:)) ?? .pcapng
        )
    }

    // MARK: target and pods

    private mutating func buildTarget(_ value: CheckedValue?) -> Target? {
        guard let value else { return nil }
        let isolation = value["isolate"]?.string.flatMap(Isolation.init(rawValue:)) ?? .none
        let node = value["node"]?.string
        if let kubernetes = value["kubernetes"] {
            let access = KubernetesAccess(
                context: kubernetes["context"]?.string,
                kubeconfig: kubernetes["kubeconfig"]?.string,
                namespace: kubernetes["namespace"]?.string ?? "default",
                helperNamespace: kubernetes["helperNamespace"]?.string ?? "capplan-system")
            return Target(kind: .kubernetes(access), node: node, isolation: isolation)
        }
        guard let local = value["local"] else { return nil }
        if let node = value["node"] {
            log.error("a local target captures on this machine; remove node or use target.kubernetes", at: node.mark, field: node.field)
        }
        if let isolate = value["isolate"], !isolate.isDefault, isolation == .cordonOthers {
            log.error("cordon-others needs a Kubernetes target; remove it or use target.kubernetes", at: isolate.mark, field: isolate.field)
        }
        return Target(kind: .local(netns: local["netns"]?.string), node: nil, isolation: .none)
    }

    private mutating func buildPods(_ value: CheckedValue?, target: Target?) -> [PodSelection] {
        let access = target?.kubernetes
        var seen: Set<PodSelection> = []
        var pods: [PodSelection] = []
        for item in value?.list ?? [] {
            let match: PodSelection.Match
            if let name = item["name"]?.string {
                match = .name(name)
            } else if let selectorValue = item["selector"], let selector = selectorValue.string.flatMap({ try? LabelSelector.parse($0).get() }) {
                if target?.isLocal == true {
                    log.error("a local target has no labels to select; name the network namespace with name:", at: selectorValue.mark, field: selectorValue.field)
                }
                match = .selector(selector)
            } else {
                continue
            }
            if target?.isLocal == true, let namespace = item["namespace"], !namespace.isDefault {
                log.error("a local target has no Kubernetes namespaces; remove namespace", at: namespace.keyMark ?? namespace.mark, field: namespace.field)
            }
            let pod = PodSelection(match: match, namespace: access.map { item["namespace"]?.string ?? $0.namespace },
                                   container: item["container"]?.string)
            if !seen.insert(pod).inserted {
                log.warning("\(pod) is listed twice; capplan captures it once", at: item.mark, field: item.field)
                continue
            }
            pods.append(pod)
        }
        return pods
    }

    // MARK: interfaces and capture

    struct Interfaces {
        var selection: InterfaceSelection
        /// The link types a filter must compile for on these interfaces.
        var linkTypes: [LinkType]
    }

    private mutating func buildInterfaces(_ value: CheckedValue?, pods: [PodSelection]) -> Interfaces {
        guard let value else {
            return pods.isEmpty ? Interfaces(selection: .any, linkTypes: [.linuxSLL2])
                                : Interfaces(selection: .pods, linkTypes: [.ethernet])
        }
        switch value.content {
        case .string(let word) where word == "pods" || word == "path":
            if pods.isEmpty {
                log.error("interfaces: \(word) needs pods to capture; add a pods: list, or use interfaces: any", at: value.mark, field: value.field)
            }
            return Interfaces(selection: word == "pods" ? .pods : .path(toward: []), linkTypes: [.ethernet])
        case .object:
            if pods.isEmpty {
                log.error("interfaces: path needs pods to capture; add a pods: list, or use interfaces: any", at: value.mark, field: value.field)
            }
            return Interfaces(selection: .path(toward: buildToward(value["path"]?["toward"])), linkTypes: [.ethernet])
        case .string:
            return Interfaces(selection: .any, linkTypes: [.linuxSLL2])
        default:
            var names: [String] = []
            for item in value.list {
                guard let name = item.string else { continue }
                if names.contains(name) {
                    log.warning("interface \(name) is listed twice", at: item.mark, field: item.field)
                    continue
                }
                names.append(name)
            }
            if names.contains("any"), names.count > 1, let item = value.list.first(where: { $0.string == "any" }) {
                log.error("'any' already captures every interface; write interfaces: any alone", at: item.mark, field: item.field)
            }
            return Interfaces(selection: .named(names), linkTypes: names.contains("any") ? [.linuxSLL2] : [.ethernet])
        }
    }

    /// Far ends of a path: single addresses, each the destination of a route lookup.
    private mutating func buildToward(_ value: CheckedValue?) -> [String] {
        var addresses: [String] = []
        for item in value?.list ?? [] {
            guard let text = item.string, case .success(let block) = CIDR.parse(text) else { continue }
            guard block.prefixLength == block.address.bitCount else {
                log.error("\(text) is a network; toward takes single addresses (a route is looked up for each), e.g. \(block.address)",
                          at: item.mark, field: item.field)
                continue
            }
            if !addresses.contains(block.address.description) { addresses.append(block.address.description) }
        }
        return addresses
    }

    private struct Capture {
        var settings: CaptureSettings
        var linkTypes: [LinkType]
        /// Nil when the filter itself was invalid (already reported), so later checks stay quiet.
        var usableFilter: String?
    }

    private mutating func buildCapture(_ value: CheckedValue?, interfaces: Interfaces) -> Capture? {
        let snaplen = Int(value?["snaplen"]?.integer ?? 262_144)
        let settings = CaptureSettings(
            filter: value?["filter"]?.string ?? "",
            duration: value?["duration"]?.duration ?? .seconds(60),
            maxPackets: value?["maxPackets"]?.integer,
            maxBytes: value?["maxBytes"]?.size,
            snaplen: snaplen,
            bufferSize: value?["bufferSize"]?.size,
            keep: nil,
            helperImage: value?["image"]?.string ?? PlanSchema.defaultHelperImage,
            privileged: value?["privileged"]?.boolean ?? false)
        var usable: String? = settings.filter
        if let filter = value?["filter"], !filter.isDefault {
            usable = checkFilter(filter, linkTypes: interfaces.linkTypes, snaplen: snaplen, purpose: "captures") ? settings.filter : nil
        }
        if let snap = value?["snaplen"], !snap.isDefault, snaplen < 96 {
            log.warning("a snaplen of \(snaplen) may cut TCP headers short; analysis needs at least 96 bytes per packet",
                        at: snap.mark, field: snap.field)
        }
        if let maxBytes = value?["maxBytes"], let size = maxBytes.size, size.bytes < Int64(snaplen) {
            log.warning("maxBytes (\(size)) is smaller than one full packet (snaplen \(snaplen)); the capture may stop at the first packet",
                        at: maxBytes.mark, field: maxBytes.field)
        }
        var capture = Capture(settings: settings, linkTypes: interfaces.linkTypes, usableFilter: usable)
        capture.settings.keep = buildKeep(value?["keep"], capture: capture)
        return capture
    }

    /// `capture.keep`: the windows around events; checked against the filter and the duration.
    private mutating func buildKeep(_ value: CheckedValue?, capture: Capture) -> KeepWindows? {
        guard let value, let aroundValue = value["around"], let around = aroundValue.string.flatMap(TrafficEvent.init(rawValue:)) else { return nil }
        if !canCapture(around, through: capture) {
            log.error("the capture filter \"\(capture.settings.filter)\" can never capture \(Self.article(around.rawValue)) \(around.rawValue) (it needs \(around.packetClass)), so no window would ever be kept; widen the filter or change keep.around",
                      at: aroundValue.mark, field: aroundValue.field)
        }
        let keep = KeepWindows(around: around, from: peer(value["from"]), before: value["before"]?.duration ?? .seconds(5),
                               after: value["after"]?.duration ?? .seconds(2), windows: Int(value["windows"]?.integer ?? 10),
                               memory: value["memory"]?.size ?? ByteSize(bytes: 64 << 20))
        if let before = value["before"], keep.before >= capture.settings.duration {
            log.warning("a window of \(keep.before) before each event is not shorter than the whole capture (\(capture.settings.duration)); every packet may be kept",
                        at: before.mark, field: before.field)
        }
        // The ring keeps a quarter for its bookkeeping; the rest must hold two of the largest packets.
        let mebibytes = (Int64(capture.settings.snaplen) * 3 + (1 << 20) - 1) >> 20
        let least = ByteSize(bytes: max(1, mebibytes) << 20)
        if let memory = value["memory"], keep.memory < least {
            log.error("a ring of \(keep.memory) is too small for packets of up to \(capture.settings.snaplen) bytes (the snaplen); give it at least \(least)",
                      at: memory.mark, field: memory.field)
        }
        return keep
    }

    /// Compiles a filter for every link type it will run on; reports libpcap's own message.
    private mutating func checkFilter(_ value: CheckedValue, linkTypes: [LinkType], snaplen: Int, purpose: String) -> Bool {
        guard let expression = value.string else { return false }
        for linkType in linkTypes {
            switch PacketFilter.check(expression, linkType: linkType, snaplen: Int32(snaplen)) {
            case .accepts:
                continue
            case .rejectsAll:
                if purpose == "captures" {
                    log.error("the filter \"\(expression)\" can never match a packet; it contradicts itself", at: value.textMark, field: value.field)
                } else {
                    log.warning("the filter \"\(expression)\" can never match a packet, so it \(purpose) nothing", at: value.textMark, field: value.field)
                }
                return false
            case .invalid(let message):
                log.error("libpcap rejects the filter on \(linkType.displayName): \(message); the syntax is tcpdump's (man pcap-filter)",
                          at: value.textMark, field: value.field)
                return false
            }
        }
        return true
    }

    /// Could a capture through `filter` ever see `event`? Checked by compiling `(filter) and (class)`.
    private func canCapture(_ event: TrafficEvent, through capture: Capture) -> Bool {
        guard let filter = capture.usableFilter, !filter.trimmingSpaces.isEmpty else { return true }
        let combined = "(\(filter)) and (\(event.packetClass))"
        return capture.linkTypes.allSatisfy { PacketFilter.check(combined, linkType: $0) != .rejectsAll }
    }

    // MARK: reproduce, stop, expect

    private mutating func buildReproduce(_ value: CheckedValue?, target: Target?, capture: Capture?) -> [ReproduceStep] {
        var steps: [ReproduceStep] = []
        for item in value?.list ?? [] {
            let at = item["at"]?.duration ?? .seconds(0)
            if let atValue = item["at"], let duration = capture?.settings.duration, at >= duration {
                log.error("starts at \(at), but the capture ends at \(duration); start it earlier or capture longer",
                          at: atValue.mark, field: atValue.field)
            }
            let action: ReproduceStep.Action
            if let exec = item["exec"] {
                if target?.isLocal == true {
                    log.error("exec runs in a Kubernetes pod; on a local target use local: {netns: NAME, command: [...]}",
                              at: exec.keyMark ?? exec.mark, field: exec.field)
                }
                guard let pod = exec["pod"]?.string.flatMap({ try? PodReference.parse($0).get() }) else { continue }
                action = .exec(pod: pod, container: exec["container"]?.string, command: checkCommand(exec["command"]))
            } else if let local = item["local"] {
                action = .local(netns: local["netns"]?.string, command: checkCommand(local["command"]))
            } else {
                continue
            }
            steps.append(ReproduceStep(at: at, action: action, timeout: item["timeout"]?.duration))
        }
        return steps
    }

    private mutating func checkCommand(_ value: CheckedValue?) -> [String] {
        guard let value else { return [] }
        if let first = value.list.first, first.string?.trimmingSpaces.isEmpty == true {
            log.error("the program name is empty", at: first.mark, field: first.field)
        }
        if let first = value.list.first, let program = first.string, value.list.count == 1, program.contains(" ") {
            log.error("\"\(program)\" is one argument with spaces; commands are argv lists and never go through a shell: write [\(program.split(separator: " ").map { "\"\($0)\"" }.joined(separator: ", "))]",
                      at: first.mark, field: first.field)
        }
        return value.strings
    }

    private mutating func buildStop(_ value: CheckedValue?, capture: Capture?) -> StopCondition? {
        guard let value, let whenValue = value["when"], let when = whenValue.string.flatMap(TrafficEvent.init(rawValue:)) else { return nil }
        if let capture, !canCapture(when, through: capture) {
            log.error("the capture filter \"\(capture.settings.filter)\" can never capture \(Self.article(when.rawValue)) \(when.rawValue) (it needs \(when.packetClass)); widen the filter or change stop.when",
                      at: whenValue.mark, field: whenValue.field)
        }
        let grace = value["grace"]?.duration ?? .seconds(2)
        if let graceValue = value["grace"], !graceValue.isDefault, let duration = capture?.settings.duration, grace >= duration {
            log.warning("a grace of \(grace) is not shorter than the whole capture (\(duration)); the stop condition cannot end it early",
                        at: graceValue.mark, field: graceValue.field)
        }
        return StopCondition(when: when, from: peer(value["from"]), grace: grace)
    }

    private mutating func buildExpectations(_ value: CheckedValue?, capture: Capture?) -> [Expectation] {
        var expectations: [Expectation] = []
        for item in value?.list ?? [] {
            let shouldSee = item["seen"] != nil
            guard let eventValue = item["seen"] ?? item["notSeen"],
                  let event = eventValue.string.flatMap(TrafficEvent.init(rawValue:)) else { continue }
            if let capture, !canCapture(event, through: capture) {
                log.error("the capture filter \"\(capture.settings.filter)\" can never capture \(Self.article(event.rawValue)) \(event.rawValue) (it needs \(event.packetClass)), so this expectation could never be judged",
                          at: eventValue.mark, field: eventValue.field)
            }
            if !shouldSee, let atLeast = item["atLeast"], !atLeast.isDefault {
                log.error("atLeast goes with seen; notSeen already means zero", at: atLeast.keyMark ?? atLeast.mark, field: atLeast.field)
            }
            // Plain locals: the optimizer of Swift 6.3 crashes on the chained form.
            let from = peer(item["from"])
            let to = peer(item["to"])
            var port: Int?
            if let number = item["port"]?.integer { port = Int(number) }
            var atLeast = 1
            if let number = item["atLeast"]?.integer { atLeast = Int(number) }
            expectations.append(Expectation(shouldSee: shouldSee, event: event, from: from, to: to, port: port, atLeast: atLeast))
        }
        return expectations
    }

    private func peer(_ value: CheckedValue?) -> Peer? {
        guard let text = value?.string, case .success(let peer) = Peer.parse(text) else { return nil }
        return peer
    }

    // MARK: redaction

    mutating func buildRedaction(_ value: CheckedValue?, interfaces: Interfaces) -> Redaction {
        guard let value else {
            return Redaction(disabled: false, payload: .drop, addresses: .keep, keepNetworks: [], macs: .keep,
                             scrub: [], dropFilter: nil, key: .random)
        }
        if value.string == "none" { return .none }
        let payload: Redaction.Payload
        switch value["payload"] {
        case let p? where p.string == "keep": payload = .keep
        case let p? where p.isObject: payload = .truncate(Int(p["truncate"]?.integer ?? 0))
        default: payload = .drop
        }
        let addresses = value["addresses"]?.string.flatMap(Redaction.Addresses.init(rawValue:)) ?? .keep
        let macs = value["macs"]?.string.flatMap(Redaction.MACs.init(rawValue:)) ?? .keep
        if let keep = value["keepNetworks"], addresses == .keep {
            log.warning("keepNetworks has no effect while addresses: keep", at: keep.mark, field: keep.field)
        }
        if let scrub = value["scrub"], payload == .drop {
            log.warning("scrub has nothing to match: payload: drop (the default) removes every payload; set payload: keep or {truncate: N}", at: scrub.mark, field: scrub.field)
        }
        var key = Redaction.KeySource.random
        if let keyValue = value["key"] {
            if let name = keyValue["env"]?.string { key = .environment(name) }
            if let path = keyValue["file"]?.string { key = .file(path) }
            if addresses == .keep, macs != .pseudonymize {
                log.warning("a key is given but nothing is pseudonymized", at: keyValue.mark, field: keyValue.field)
            }
        }
        if let drop = value["drop"] {
            _ = checkFilter(drop, linkTypes: interfaces.linkTypes, snaplen: 262_144, purpose: "drops")
        }
        return Redaction(disabled: false, payload: payload, addresses: addresses,
                         keepNetworks: value["keepNetworks"]?.strings.compactMap { try? CIDR.parseValue($0).get() } ?? [],
                         macs: macs, scrub: value["scrub"]?.strings ?? [], dropFilter: value["drop"]?.string, key: key,
                         names: value["names"]?.string.flatMap(Redaction.Names.init(rawValue:)) ?? .keep)
    }

    /// "a" or "an", as the word's first letter sounds (icmp-unreachable: an).
    static func article(_ word: String) -> String { "aeiouAEIOU".contains(word.first ?? "x") ? "an" : "a" }
}
