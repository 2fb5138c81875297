import CapplanTestSupport
import Foundation
import Testing

/// The Kubernetes lab (scripts/k8s-lab/lab): a real API server, kubelet, containerd and CNI
/// bridge on this machine. The runbook is done by hand against it, as the next issue's
/// `capplan apply` will do it, and `lab down` must leave nothing behind. The suite brings
/// the lab up if it is not (the first time on a machine builds Kubernetes: minutes) and
/// takes it down at the end.
@Suite(.serialized)
struct KubernetesLabTests {
    static let lab = Repository.path("scripts/k8s-lab/lab")
    static let kubeconfig = "/var/tmp/capplan-k8s-lab/pki/admin.kubeconfig"

    static let up: Result<Void, NetLab.LabError> = {
        guard getuid() == 0 else { return .failure(NetLab.LabError(description: "the Kubernetes lab needs root (CI runs as root)")) }
        do throws(NetLab.LabError) {
            try NetLab.run([lab, "up"], timeout: 3600)
            try NetLab.run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", Repository.path("examples/lab/myapp.yaml")], timeout: 60)
            try NetLab.run(["kubectl", "--kubeconfig", kubeconfig, "-n", "myapp", "wait", "--for=condition=Ready",
                            "pod/myapppod", "pod/client", "--timeout=180s"], timeout: 200)
            return .success(())
        } catch {
            return .failure(error)
        }
    }()

    static func kubectl(_ arguments: String...) throws -> String {
        try NetLab.run(["kubectl", "--kubeconfig", kubeconfig] + arguments, timeout: 60)
    }

    /// Runs a scenario while tcpdump captures the pod's host-side veth; returns the capture's path.
    static func captureScenario(_ name: String, on veth: String) throws -> String {
        let file = Crafter.directory + "/k8s-\(name)-\(UUID().uuidString).pcap"
        let dump = try NetLab.Background(["tcpdump", "-i", veth, "--immediate-mode", "-U", "-n", "-w", file, "tcp"], ready: "listening on")
        try NetLab.run([lab, "scenario", name], timeout: 60)
        Thread.sleep(forTimeInterval: 0.5)
        dump.stop()
        return file
    }

    /// The runbook's steps 3 and 4 by hand: eth0's iflink in the pod, the node's interface with that index.
    static func podVeth() throws -> String {
        let index = try kubectl("-n", "myapp", "exec", "myapppod", "--", "cat", "/sys/class/net/eth0/iflink")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        for line in try NetLab.run(["ip", "-o", "link"]).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2)
            if parts.count >= 2, parts[0] == index {
                return String(parts[1].trimmingCharacters(in: .whitespaces).split(separator: "@")[0])
            }
        }
        throw NetLab.LabError(description: "no interface with index \(index) on the node")
    }

    @Test func nodesAreTheRealOneAndTwoExtras() throws {
        try Self.up.get()
        let nodes = try Self.kubectl("get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}")
        let lines = nodes.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix(ProcessInfo.processInfo.hostName + " True") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("lab-node-1") } && lines.contains { $0.hasPrefix("lab-node-2") })
        #expect(!lines.contains { $0.hasPrefix("lab-node-1 True") }, "the extra nodes have no kubelet")
        #expect(!(try NetLab.run(["cat", NSHomeDirectory() + "/.kube/config"], check: false)).contains("capplan-k8s-lab"), "the user's own kubeconfig is untouched")
    }

    @Test func theRunbookByHandSeesThePodsReset() throws {
        try Self.up.get()
        let veth = try Self.podVeth()
        #expect(veth.range(of: "^veth[0-9a-f]{8}$", options: .regularExpression) != nil, "\(veth)")
        let podIP = try Self.kubectl("-n", "myapp", "get", "pod", "myapppod", "-o", "jsonpath={.status.podIP}")
        let file = try Self.captureScenario("idle-reset", on: veth)
        let resets = try Tshark.fields(file, filter: "tcp.flags.reset == 1", ["ip.src", "ip.dst", "tcp.dstport"])
        #expect(resets.map { $0.joined(separator: " ") } == ["\(podIP) 203.0.113.12 443"])
    }

    @Test func theOtherScenariosRepeat() throws {
        try Self.up.get()
        let veth = try Self.podVeth()
        for _ in 0..<2 {
            let lbReset = try Self.captureScenario("lb-reset", on: veth)
            #expect(try Tshark.fields(lbReset, filter: "tcp.flags.reset == 1", ["ip.src", "tcp.srcport"]).map { $0.joined(separator: " ") }
                    == ["203.0.113.12 443"])
            let refused = try Self.captureScenario("refused", on: veth)
            #expect(try Tshark.count(refused, filter: "tcp.flags.reset == 1 && tcp.srcport == 8443") == 1)
        }
    }

    /// Last in the suite: down leaves no process, mount, namespace, link or rule of the lab.
    @Test func downLeavesNothingBehind() throws {
        try Self.up.get()
        try NetLab.run([Self.lab, "down"], timeout: 180)
        let processes = try NetLab.run(["ps", "-eo", "stat=,args="]).split(separator: "\n")
            .filter { !$0.hasPrefix("Z") && ($0.contains("capplan-k8s") || $0.contains("containerd-shim") || $0.contains("labapp")) }
        #expect(processes.isEmpty, "\(processes)")
        #expect(!(try String(contentsOfFile: "/proc/mounts", encoding: .utf8)).contains("capplan-k8s-lab"))
        let namespaces = try NetLab.run(["ip", "netns", "list"])
        #expect(!namespaces.contains("cni-") && !namespaces.contains("cpl-k8s-ext"))
        let links = try NetLab.run(["ip", "-o", "link"])
        #expect(!links.contains("cni0") && !links.contains("k8sext0"))
        #expect(!(try NetLab.run(["iptables", "-t", "nat", "-S"])).contains("CNI-"))
    }
}
