import CapplanPlan
import Foundation

/// The helper pods' lifecycle on the cluster: create one from its planned manifest, wait until
/// every one is Ready, and turn what keeps one from starting into an error that says what to do.
struct HelperPods {
    let kubectl: Kubectl
    let context: RunContext
    /// How long a helper pod may take to become Ready (image pull included).
    static let readyTimeout: TimeInterval = 180

    /// Writes the manifest into the run directory, records the undo, then creates the pod.
    func create(_ helper: HelperPod, step: Step) throws {
        let node = helper.node.value ?? "NODE"
        let file = manifestFile(helper)
        try helper.manifest.write(toFile: file, atomically: true, encoding: .utf8)
        if let undo = step.undo { try context.undo.push(step.number, "helper pod on \(node)", undo) }
        try kubectl.check(["create", "-f", file], what: "create the helper pod on node \(node)")
        context.journal.note("created helper pod \(helper.namespace)/\(helper.name) on \(node) (deadline \(helper.deadlineSeconds) s)")
    }

    /// Where a helper's manifest is kept in the run directory.
    func manifestFile(_ helper: HelperPod) -> String {
        context.directory + "/helper-\(helper.node.value ?? "NODE").json"
    }

    /// Creates a helper again from the manifest `create` kept, once what is left of the old one
    /// (a pod still being deleted, or one that ended) is deleted and gone. The caller waits until it is Ready.
    func recreate(_ helper: HelperPod) throws {
        // The old pod's object is removed at once, not awaited: with the node busy, a pod took over 10 s
        // to go (the lab under load), and in CI, it seems, over 35 s, so the capture was not resumed
        // before it stopped. Its containers only sleep, and the kubelet stops them as it catches up. A failed
        // try is tried again: 20 s at most.
        var brief = kubectl
        brief.timeout = 20
        if case .failed(let why) = brief.deletePod(namespace: helper.namespace, name: helper.name, force: true) {
            throw KubernetesError("the old helper pod is not gone: \(why)")
        }
        try kubectl.check(["create", "-f", manifestFile(helper)], what: "create the helper pod on node \(helper.node.value ?? "?") again")
    }

    /// Waits until every helper is Ready, up to `timeout`; what keeps one from starting becomes the error.
    func waitUntilReady(_ helpers: [HelperPod], timeout: TimeInterval = Self.readyTimeout) throws {
        guard let first = helpers.first else { return }
        let deadline = Date().addingTimeInterval(timeout)
        var nextProgress = Date().addingTimeInterval(5)
        while true {
            try context.checkInterrupt()
            let pods = try kubectl.get(ClusterObjects.List<ClusterObjects.Pod>.self,
                                       ["pods", "-n", first.namespace, "-l", "\(HelperPod.runLabel)=\(first.run)"], what: "read the helper pods").items
            let waiting = try helpers.compactMap { helper throws -> String? in
                guard let pod = pods.first(where: { $0.name == helper.name }) else { return "\(helper.name): not created yet" }
                if pod.ready { return nil }
                if let problem = Self.startProblem(pod, helper: helper) { throw KubernetesError(problem) }
                let reason = pod.status?.containerStatuses?.first?.state?.waiting?.reason
                return "\(helper.name): \(pod.status?.phase ?? "Pending")\(reason.map { " (\($0))" } ?? "")"
            }
            if waiting.isEmpty { return }
            if Date() >= nextProgress {
                context.say("still waiting for the helper: \(waiting.joined(separator: "; "))")
                nextProgress = Date().addingTimeInterval(5)
            }
            if Date() >= deadline {
                throw KubernetesError("the helper pods were not Ready within \(Int(timeout)) s (\(waiting.joined(separator: "; "))); "
                                      + "kubectl describe pod -n \(first.namespace) shows why")
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    /// Why a helper pod cannot start, if the cluster already says so.
    static func startProblem(_ pod: ClusterObjects.Pod, helper: HelperPod) -> String? {
        let on = "the helper pod \(helper.namespace)/\(helper.name) on node \(helper.node.value ?? "?")"
        if let scheduled = pod.status?.conditions?.first(where: { $0.type == "PodScheduled" }), scheduled.status == "False",
           scheduled.reason == "Unschedulable" {
            return "\(on) cannot be scheduled: \(scheduled.message ?? "Unschedulable")"
        }
        if pod.status?.phase == "Failed" || pod.status?.phase == "Succeeded" {
            return "\(on) ended before it was Ready: \(pod.status?.reason ?? pod.status?.phase ?? "")\(pod.status?.message.map { ": \($0)" } ?? "")"
        }
        for status in pod.status?.containerStatuses ?? [] {
            if let waiting = status.state?.waiting, let reason = waiting.reason, Self.cannotStart.contains(reason) {
                let hint = reason.contains("Image") ? ". The image \(helper.image) (capture.image) must be pullable from the node and have ip and tcpdump" : ""
                return "\(on) cannot start: \(reason)\(waiting.message.map { ": \($0)" } ?? "")\(hint)"
            }
            if let terminated = status.state?.terminated {
                return "\(on) exited: \(terminated.reason ?? "exit \(terminated.exitCode ?? -1)")\(terminated.message.map { ": \($0)" } ?? ""); "
                    + "its image needs sleep, ip and tcpdump"
            }
        }
        return nil
    }

    /// Container waiting reasons that do not go away by waiting.
    static let cannotStart: Set<String> = ["ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError",
                                           "CreateContainerError", "RunContainerError", "CrashLoopBackOff"]
}
