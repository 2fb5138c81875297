import CapplanLoad
import CapplanPlan
import Foundation

/// Why something on the cluster could not be done, in words a user can act on.
public struct KubernetesError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The transport to the cluster: kubectl, always with an argv array, so every kubeconfig,
/// context and auth plugin the user already has works as it does for them.
public struct Kubectl: Sendable {
    /// `kubectl [--kubeconfig FILE] [--context NAME]`: every call starts with it.
    public let argv: [String]
    /// The longest any single call may take (a call may ask for less; undo calls get what the cleanup deadline leaves).
    public var timeout: TimeInterval = 60
    /// Asked while a call runs: true stops it (Ctrl-C during a run). Undo calls have none.
    public var cancelled: (@Sendable () -> Bool)?

    public init(argv: [String]) { self.argv = argv }

    public init(_ access: KubernetesAccess) { argv = Planner.kubectl(access) }

    /// Runs `kubectl ARGS...` to completion, or until `cancelled` says so.
    public func run(_ arguments: [String], timeout: TimeInterval? = nil) throws(KubernetesError) -> Processes.Captured {
        let result: Processes.Captured
        do {
            result = try Processes.capture(argv + arguments, timeout: min(timeout ?? self.timeout, self.timeout), cancelled: cancelled)
        } catch {
            throw KubernetesError("cannot run kubectl (\(error)); install kubectl v1.20 or later and put it on PATH")
        }
        if result.cancelled { throw KubernetesError("interrupted while kubectl \(arguments.prefix(2).joined(separator: " ")) ran") }
        return result
    }

    /// Runs and requires success; the error carries kubectl's own message.
    @discardableResult
    public func check(_ arguments: [String], timeout: TimeInterval? = nil, what: String) throws(KubernetesError) -> String {
        let result = try run(arguments, timeout: timeout)
        if result.timedOut { throw KubernetesError("\(what): kubectl did not answer within \(Int(timeout ?? self.timeout)) s") }
        guard result.status == 0 else { throw KubernetesError("\(what): \(Self.message(result.errors))") }
        return result.output
    }

    /// `kubectl get ... -o json`, decoded.
    public func get<T: Decodable>(_ type: T.Type, _ arguments: [String], what: String) throws(KubernetesError) -> T {
        let output = try check(["get"] + arguments + ["-o", "json"], what: what)
        do {
            return try JSONDecoder().decode(T.self, from: Data(output.utf8))
        } catch {
            throw KubernetesError("\(what): kubectl's answer was not what capplan reads (\(error))")
        }
    }

    /// The argv that runs `command` in a pod's container, with nothing interpreted on the way.
    public func exec(namespace: String, pod: String, container: String?, _ command: [String]) -> [String] {
        argv + Self.execArguments(namespace: namespace, pod: pod, container: container, command)
    }

    /// `exec -n NAMESPACE POD [-c CONTAINER] -- COMMAND...`, the arguments after kubectl itself.
    static func execArguments(namespace: String, pod: String, container: String?, _ command: [String]) -> [String] {
        ["exec", "-n", namespace, pod] + (container.map { ["-c", $0] } ?? []) + ["--"] + command
    }

    /// Runs `command` in a helper pod's container (on its node's network) and requires success.
    func checkInHelper(_ helper: HelperPod, _ command: [String], what: String) throws(KubernetesError) -> String {
        try check(Self.execArguments(namespace: helper.namespace, pod: helper.name, container: HelperPod.container, command), timeout: 30, what: what)
    }

    /// The first call of every command that reads a cluster: one that does not answer is said so,
    /// with kubectl's reason and the command to check it by hand.
    public func requireAnswer(_ access: KubernetesAccess) throws(KubernetesError) {
        let result = try run(["auth", "can-i", "get", "nodes"], timeout: 30)
        let answer = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard answer == "yes" || answer == "no" else {
            let context = access.context.map { "context \($0)" } ?? "kubectl's current context"
            let config = access.kubeconfig ?? ProcessInfo.processInfo.environment["KUBECONFIG"] ?? "~/.kube/config"
            throw KubernetesError("""
                the cluster does not answer (\(context), kubeconfig \(config)): \
                \(result.timedOut ? "no answer within 30 s" : Self.message(result.errors)). \
                Check with kubectl\(access.kubeconfig.map { " --kubeconfig \($0)" } ?? "")\(access.context.map { " --context \($0)" } ?? "") get nodes
                """)
        }
    }

    /// kubectl's error text without its `error: ` prefix, on one line.
    static func message(_ errors: String) -> String {
        let lines = errors.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let text = lines.joined(separator: "; ")
        return text.hasPrefix("error: ") ? String(text.dropFirst(7)) : (text.isEmpty ? "kubectl failed without a message" : text)
    }

    // MARK: undo actions (also used by `capplan cleanup`)

    /// Deletes a pod and waits until it is gone. `force`: its object goes at once (`--force
    /// --grace-period=0`), without waiting for its node to confirm that its containers stopped,
    /// which on a busy node takes tens of seconds: for a helper that is already gone or going.
    public func deletePod(namespace: String, name: String, force: Bool = false) -> UndoOutcome {
        let wait = max(5, Int(timeout) - 10)
        let grace = force ? ["--force", "--grace-period=0"] : ["--grace-period=1"]
        guard let result = try? run(["delete", "pod", "-n", namespace, name, "--ignore-not-found", "--wait=true"] + grace
                                    + ["--timeout=\(wait)s"], timeout: timeout) else {
            return .failed("cannot run kubectl to delete pod \(namespace)/\(name)")
        }
        if result.timedOut { return .failed("pod \(namespace)/\(name) was not gone within \(Int(timeout)) s") }
        if result.status != 0 { return .failed("deleting pod \(namespace)/\(name) failed: \(Self.message(result.errors))") }
        return result.output.contains("deleted") ? .done("deleted pod \(namespace)/\(name)") : .nothingToDo("pod \(namespace)/\(name) was already gone")
    }

    /// Uncordons a node if it still carries `run`'s cordon mark (a node cordoned by anyone else stays cordoned).
    public func uncordon(node: String, run: String) -> UndoOutcome {
        guard let result = try? self.run(["get", "node", node, "-o", "jsonpath={.metadata.annotations.capplan\\.dev/cordoned-by}"]) else {
            return .failed("cannot run kubectl to uncordon \(node)")
        }
        if result.status != 0 { return .failed("cannot read node \(node): \(Self.message(result.errors))") }
        guard result.output.trimmingCharacters(in: .whitespacesAndNewlines) == run else {
            return .nothingToDo("node \(node) does not carry this run's cordon mark: left as it is")
        }
        let patch = #"{"spec":{"unschedulable":null},"metadata":{"annotations":{"capplan.dev/cordoned-by":null}}}"#
        guard let patched = try? self.run(["patch", "node", node, "--type=merge", "-p", patch]), patched.status == 0 else {
            return .failed("uncordoning \(node) failed: run kubectl uncordon \(node)")
        }
        return .done("uncordoned node \(node)")
    }

    /// Cordons a node and marks it with `run`, in one patch.
    public func cordon(node: String, run: String) throws(KubernetesError) {
        let patch = #"{"spec":{"unschedulable":true},"metadata":{"annotations":{"capplan.dev/cordoned-by":"\#(run)"}}}"#
        try check(["patch", "node", node, "--type=merge", "-p", patch], what: "cordon node \(node)")
    }

    /// Deletes a namespace capplan created for its helpers (only while it carries capplan's label
    /// and holds no other run's helper).
    public func deleteNamespace(_ name: String) -> UndoOutcome {
        guard let owner = try? self.run(["get", "namespace", name, "--ignore-not-found", "-o", "jsonpath={.metadata.labels.app\\.kubernetes\\.io/managed-by}"]) else {
            return .failed("cannot run kubectl to delete namespace \(name)")
        }
        if owner.status == 0 && owner.output.isEmpty && owner.errors.isEmpty { return .nothingToDo("namespace \(name) was already gone") }
        guard owner.output.trimmingCharacters(in: .whitespacesAndNewlines) == HelperPod.manager else {
            return .nothingToDo("namespace \(name) is not capplan's (no \(HelperPod.managedBy) label): left as it is")
        }
        // Another run may have found it and put its helper there: then it stays.
        if let others = try? self.run(["get", "pods", "-n", name, "-l", HelperPod.managedBy, "-o", "name"]),
           others.status == 0, !others.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return .nothingToDo("namespace \(name) still holds other runs' helper pods: left as it is")
        }
        let wait = max(5, Int(timeout) - 10)
        guard let result = try? self.run(["delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=\(wait)s"], timeout: timeout) else {
            return .failed("cannot run kubectl to delete namespace \(name)")
        }
        if result.status != 0 { return .failed("deleting namespace \(name) failed: \(Self.message(result.errors))") }
        return .done("deleted namespace \(name)")
    }
}
