import CapplanLoad
import CapplanPackets
import Testing

struct ValueTests {
    @Test(arguments: [("90s", 90_000), ("5m", 300_000), ("1h30m", 5_400_000), ("250ms", 250), ("1.5s", 1500), ("2h", 7_200_000)] as [(String, Int64)])
    func durationsParse(_ text: String, _ milliseconds: Int64) throws {
        #expect(try PlanDuration.parse(text).get().milliseconds == milliseconds)
    }

    @Test(arguments: ["", "90", "90q", "s", "1h30", "-5s", "5 s", "1d"])
    func badDurationsAreRejected(_ text: String) {
        #expect(throws: ValueError.self) { try PlanDuration.parse(text).get() }
    }

    @Test func durationsPrintCanonically() {
        #expect(PlanDuration(milliseconds: 5_400_000).description == "1h30m")
        #expect(PlanDuration(milliseconds: 61_500).description == "1m1s500ms")
        #expect(PlanDuration(milliseconds: 0).description == "0s")
    }

    @Test(arguments: [("512MiB", 536_870_912), ("1GB", 1_000_000_000), ("64KiB", 65536), ("1500", 1500), ("2Gi", 2_147_483_648), ("10 MB", 10_000_000)] as [(String, Int64)])
    func sizesParse(_ text: String, _ bytes: Int64) throws {
        #expect(try ByteSize.parse(text).get().bytes == bytes)
    }

    @Test(arguments: ["", "MiB", "5QB", "1.5B", "99999999999TB"])
    func badSizesAreRejected(_ text: String) {
        #expect(throws: ValueError.self) { try ByteSize.parse(text).get() }
    }

    /// Kubernetes' own examples of valid selectors (k8s.io/apimachinery labels tests).
    @Test(arguments: ["app=x,tier!=db", "env in (a,b)", "!canary", "x=a,y=b,z=c", "x", "x=", "x==a", "x notin (a)", "x in (a,,b)",
                      "example.com/app=web", "x>1", "x<10", " app = x ", "env in ( a , b )", "app.kubernetes.io/name=my-app"])
    func validSelectors(_ text: String) {
        #expect(throws: Never.self) { try LabelSelector.parse(text).get() }
    }

    @Test(arguments: ["", "app=x,", ",app=x", "app=x,,tier", "env in a,b", "env in (a,b", "-app=x", "app=-x", "app=x y", "x>a",
                      "Example.com/app=x", "a/b/c=x", "app is x", "!app=x", String(repeating: "k", count: 64) + "=v"])
    func invalidSelectors(_ text: String) {
        #expect(throws: ValueError.self) { try LabelSelector.parse(text).get() }
    }

    @Test func selectorsMatchLabels() throws {
        let selector = try LabelSelector.parse("app=web,tier!=db,env in (prod,stage),!canary").get()
        #expect(selector.matches(["app": "web", "tier": "fe", "env": "prod"]))
        #expect(!selector.matches(["app": "web", "tier": "db", "env": "prod"]))
        #expect(!selector.matches(["app": "web", "env": "prod", "canary": "1"]))
        #expect(!selector.matches(["app": "web", "env": "dev"]))
    }

    @Test(arguments: ["10.96.0.0/12", "0.0.0.0/0", "203.0.113.12", "2001:db8::/32", "::1", "fd00::/8"])
    func validCIDRs(_ text: String) {
        #expect(throws: Never.self) { try CIDR.parse(text).get() }
    }

    @Test(arguments: ["10.96.1.0/12", "10.0.0.0/33", "10.0.0.256/8", "2001:db8::1/32", "::/129", "10.0.0.0/", "10.0.0.0/x", "host"])
    func invalidCIDRs(_ text: String) {
        #expect(throws: CIDRError.self) { try CIDR.parse(text).get() }
    }

    @Test func cidrContainment() throws {
        let block = try CIDR.parse("10.96.0.0/12").get()
        #expect(block.contains(try #require(IPAddress("10.111.2.3"))))
        #expect(!block.contains(try #require(IPAddress("10.112.0.1"))))
        #expect(!block.contains(try #require(IPAddress("::1"))))
    }

    @Test(arguments: [("a", true), ("my-app-1", true), ("a.b", false), ("-a", false), ("a-", false), ("A", false), (String(repeating: "a", count: 64), false)])
    func dnsLabels(_ text: String, _ valid: Bool) {
        #expect((KubernetesName.checkLabel(text, what: "name") == nil) == valid)
    }

    @Test(arguments: [("a.b-c.d", true), ("a..b", false), ("a.-b", false), ("node-1.example.com", true), (String(repeating: "a", count: 254), false)])
    func dnsSubdomains(_ text: String, _ valid: Bool) {
        #expect((KubernetesName.checkSubdomain(text, what: "name") == nil) == valid)
    }

    @Test(arguments: [("pods", Peer.pods), ("external", .external), ("node", .node), ("pod:web", .pod(namespace: nil, name: "web")),
                      ("pod:myapp/web-0", .pod(namespace: "myapp", name: "web-0"))] as [(String, Peer)])
    func peers(_ text: String, _ peer: Peer) throws {
        #expect(try Peer.parse(text).get() == peer)
        #expect(peer.description == text)
    }

    @Test func peerAddressesAndBlocks() throws {
        #expect(try Peer.parse("203.0.113.12").get().description == "203.0.113.12")
        #expect(try Peer.parse("198.51.100.0/24").get().description == "198.51.100.0/24")
        #expect(throws: ValueError.self) { try Peer.parse("everyone").get() }
    }

    @Test func suggestionsCatchTyposOnly() {
        #expect(Suggestion.closest(to: "duraton", in: ["duration", "filter"]) == "duration")
        #expect(Suggestion.closest(to: "fitler", in: ["duration", "filter"]) == "filter")
        #expect(Suggestion.closest(to: "Filter", in: ["duration", "filter"]) == "filter")
        #expect(Suggestion.closest(to: "banana", in: ["duration", "filter"]) == nil)
    }
}
