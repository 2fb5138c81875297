import CapplanLoad
import Testing

/// Every broken plan must produce exactly one error, at the marked spot, saying what is wrong.
struct BrokenPlanTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var yaml: String
        var message: String
        var testDescription: String { name }
    }

    static let head = "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: t}\n"
    static let local = head + "target: {local: {}}\n"
    static let kube = head + "target:\n  kubernetes: {namespace: app}\n"

    static let cases: [Case] = [
        Case(name: "typo in a key", yaml: local + "capture:\n  1️⃣duraton: 60s\n", message: "unknown key 'duraton' in capture; did you mean 'duration'?"),
        Case(name: "invalid BPF filter", yaml: local + "capture:\n  filter: 1️⃣tcp prot 443\n", message: "libpcap rejects the filter on Linux cooked v2 (interface any): can't parse filter expression: syntax error"),
        Case(name: "duration with an unknown unit", yaml: local + "capture:\n  duration: 901️⃣q\n", message: "\"90q\" is not a duration: unknown unit \"q\""),
        Case(name: "duration without a unit", yaml: local + "capture:\n  duration: 601️⃣\n", message: "\"60\" has no unit; write 60s"),
        Case(name: "duration with a unit written out", yaml: local + "capture:\n  duration: 10 1️⃣minutes\n",
             message: "\"10 minutes\" is not a duration: capplan does not know the unit \"minutes\"; write 10m"),
        Case(name: "duration with a space before its unit", yaml: local + "capture:\n  duration: 10 1️⃣m\n",
             message: "no space goes between the number and its unit; write 10m"),
        Case(name: "duration below the minimum", yaml: local + "capture:\n  duration: 1️⃣500ms\n", message: "500ms is out of range; use 1s to 24h"),
        Case(name: "size with an unknown unit", yaml: local + "capture:\n  maxBytes: 5121️⃣MQ\n", message: "has unknown unit \"MQ\""),
        Case(name: "size of zero", yaml: local + "capture:\n  maxBytes: 1️⃣0\n", message: "a size of 0 would stop at once"),
        Case(name: "snaplen out of range", yaml: local + "capture:\n  snaplen: 1️⃣300000\n", message: "300000 is out of range; use 1 to 262144"),
        Case(name: "number in quotes", yaml: local + "capture:\n  maxPackets: 1️⃣\"100\"\n", message: "expected a whole number from 1 to 1000000000, got a quoted string"),
        Case(name: "duplicate key", yaml: local + "capture:\n  duration: 5s\n  1️⃣duration: 6s\n", message: "duplicate key 'duration' (first given at line 6)"),
        Case(name: "missing target", yaml: "1️⃣" + head, message: "missing required field 'target'"),
        Case(name: "missing metadata.name", yaml: "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: 1️⃣{description: x}\ntarget: {local: {}}\n", message: "missing required field 'name'"),
        Case(name: "wrong apiVersion", yaml: "apiVersion: 1️⃣capplan/v2\nkind: CapturePlan\nmetadata: {name: t}\ntarget: {local: {}}\n", message: "\"capplan/v2\" is not 'capplan/v1'"),
        Case(name: "misspelt kind", yaml: "apiVersion: capplan/v1\nkind: 1️⃣CapturPlan\nmetadata: {name: t}\ntarget: {local: {}}\n", message: "did you mean 'CapturePlan'?"),
        Case(name: "plan name not DNS-1123", yaml: "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: lb1️⃣_rst}\ntarget: {local: {}}\n", message: "name \"lb_rst\" has '_'"),
        Case(name: "pods is not a list", yaml: kube + "pods: 1️⃣app=x\n", message: "expected a list of pod mappings, got a string"),
        Case(name: "pod name with upper case", yaml: kube + "pods:\n  - name: 1️⃣Web-0\n", message: "Kubernetes names are lower case: \"web-0\""),
        Case(name: "plan name with upper case and '_'", yaml: "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: 1️⃣Bad_Name}\ntarget: {local: {}}\n",
             message: "Kubernetes names are lower case: \"bad-name\""),
        Case(name: "pod with neither name nor selector", yaml: kube + "pods:\n  - 1️⃣namespace: x\n", message: "needs 'name' or 'selector'"),
        Case(name: "pod with name and selector", yaml: kube + "pods:\n  - name: a\n    1️⃣selector: app=b\n", message: "'name' and 'selector' cannot both be given"),
        Case(name: "selector with an empty requirement", yaml: kube + "pods:\n  - selector: app=x,1️⃣,tier\n", message: "expected a label key, found ','"),
        Case(name: "selector set without parentheses", yaml: kube + "pods:\n  - selector: env in 1️⃣a,b\n", message: "expected '(' to open the set of values"),
        Case(name: "selector set not closed", yaml: kube + "pods:\n  - selector: env in (a,b1️⃣\n", message: "the set of values is not closed"),
        Case(name: "selector key starting with a dash", yaml: kube + "pods:\n  - selector: 1️⃣-app=x\n", message: "label key \"-app\" must start and end with a letter or digit"),
        Case(name: "selector with an unknown operator", yaml: kube + "pods:\n  - selector: app 1️⃣is x\n", message: "expected an operator after \"app\""),
        Case(name: "namespace not a DNS label", yaml: head + "target:\n  kubernetes: {namespace: 1️⃣My-NS}\n", message: "name \"My-NS\" has 'M'"),
        Case(name: "CIDR with host bits", yaml: local + "redact:\n  addresses: pseudonymize\n  keepNetworks: [1️⃣10.96.1.0/12]\n", message: "10.96.1.0/12 has host bits set; did you mean 10.96.0.0/12?"),
        Case(name: "CIDR prefix too long", yaml: local + "redact:\n  addresses: pseudonymize\n  keepNetworks: [10.0.0.0/1️⃣33]\n", message: "\"33\" is not a prefix length; use 0 to 32"),
        Case(name: "CIDR with a bad address", yaml: local + "redact:\n  addresses: pseudonymize\n  keepNetworks: [1️⃣10.0.0.256/8]\n", message: "\"10.0.0.256\" is not an IPv4 or IPv6 address"),
        Case(name: "scrub regex that does not compile", yaml: local + "redact:\n  payload: keep\n  scrub: ['(unclosed1️⃣']\n", message: "does not compile: missing closing parenthesis"),
        Case(name: "interfaces: pods without pods", yaml: local + "interfaces: 1️⃣pods\n", message: "interfaces: pods needs pods to capture"),
        Case(name: "stop on reset with a UDP-only filter", yaml: local + "capture: {filter: udp port 53}\nstop:\n  when: 1️⃣reset\n", message: "can never capture a reset (it needs tcp)"),
        Case(name: "keep around resets with a UDP-only filter", yaml: local + "capture:\n  filter: udp\n  keep: {around: 1️⃣reset}\n",
             message: "can never capture a reset (it needs tcp), so no window would ever be kept"),
        Case(name: "keep with a ring smaller than a packet", yaml: local + "capture:\n  snaplen: 1500\n  keep: {around: reset, memory: 1️⃣1KiB}\n",
             message: "a ring of 1KiB is too small for packets of up to 1500 bytes (the snaplen); give it at least 1MiB"),
        Case(name: "keep without its event", yaml: local + "capture:\n  keep: 1️⃣{before: 5s}\n", message: "missing required field 'around' (one of reset, refused"),
        Case(name: "expectation the filter cannot see", yaml: local + "capture: {filter: icmp}\nexpect:\n  - seen: 1️⃣dns-failure\n", message: "can never capture a dns-failure"),
        Case(name: "filter that contradicts itself", yaml: local + "capture:\n  filter: 1️⃣udp and tcp\n", message: "can never match a packet"),
        Case(name: "filter libpcap cannot compile for interface any", yaml: local + "interfaces: any\ncapture:\n  filter: 1️⃣vlan and tcp\n", message: "no VLAN support for Linux cooked v2"),
        Case(name: "port number out of range in a filter", yaml: local + "capture:\n  filter: 1️⃣port 99999\n", message: "illegal port number 99999 > 65535"),
        Case(name: "cordon-others on a local target", yaml: head + "target:\n  local: {}\n  isolate: 1️⃣cordon-others\n", message: "cordon-others needs a Kubernetes target"),
        Case(name: "node on a local target", yaml: head + "target:\n  local: {}\n  node: 1️⃣worker-1\n", message: "a local target captures on this machine"),
        Case(name: "exec on a local target", yaml: local + "reproduce:\n  - 1️⃣exec: {pod: web, command: [curl, x]}\n", message: "exec runs in a Kubernetes pod"),
        Case(name: "reproduce after the capture ends", yaml: local + "capture: {duration: 1m}\nreproduce:\n  - at: 1️⃣2m\n    local: {command: [true]}\n", message: "starts at 2m, but the capture ends at 1m"),
        Case(name: "command written as a shell string", yaml: local + "reproduce:\n  - local: {command: [1️⃣curl -sS http://x]}\n", message: "commands are argv lists and never go through a shell"),
        Case(name: "key that belongs in another section", yaml: local + "1️⃣filter: tcp\n", message: "unknown key 'filter' at the top level; 'filter' belongs in capture"),
        Case(name: "secret written in the plan", yaml: local + "redact:\n  addresses: pseudonymize\n  key: 1️⃣\"21 34 23 141\"\n", message: "a secret is never written in a plan"),
        Case(name: "environment variable name", yaml: local + "redact:\n  addresses: pseudonymize\n  key: {env: 1️⃣9KEY}\n", message: "\"9KEY\" is not an environment variable name"),
        Case(name: "unknown output placeholder", yaml: local + "output:\n  dir: runs/1️⃣{nmae}\n", message: "unknown placeholder {nmae}; use {name}, {time}, {node} or {target}; did you mean {name}?"),
        Case(name: "output directory climbing out", yaml: local + "output:\n  dir: 1️⃣../../etc\n", message: "may not climb out with '..'"),
        Case(name: "atLeast with notSeen", yaml: local + "expect:\n  - notSeen: reset\n    1️⃣atLeast: 2\n", message: "atLeast goes with seen"),
        Case(name: "misspelt peer", yaml: local + "expect:\n  - seen: reset\n    from: 1️⃣extrenal\n", message: "did you mean 'external'?"),
        Case(name: "boolean written as yes", yaml: local + "capture:\n  privileged: 1️⃣yes\n", message: "expected true or false, got \"yes\""),
        Case(name: "image with a shell metacharacter", yaml: local + "capture:\n  image: busybox1️⃣;rm\n", message: "image \"busybox;rm\" has ';'"),
        Case(name: "interface name too long", yaml: local + "interfaces: [veth0123456789a1️⃣bc]\n", message: "longer than 15 bytes"),
        Case(name: "any together with other interfaces", yaml: local + "interfaces: [eth0, 1️⃣any]\n", message: "'any' already captures every interface"),
        Case(name: "cordon-others with nothing to keep", yaml: head + "target:\n  kubernetes: {}\n  isolate: 1️⃣cordon-others\ninterfaces: any\n", message: "isolate: cordon-others needs target.node or pods"),
        Case(name: "tab indentation", yaml: local + "capture:\n1️⃣\tduration: 5s\n", message: "not valid YAML: while scanning for the next token, found character that cannot start any token"),
        Case(name: "unclosed flow sequence", yaml: local + "interfaces: [eth0, eth1\n1️⃣", message: "not valid YAML"),
        Case(name: "anchor", yaml: local + "capture: 1️⃣&c {duration: 5s}\n", message: "anchors (&name) are not supported"),
        Case(name: "two documents", yaml: local + "1️⃣---\n" + local, message: "a plan file holds one YAML document"),
        Case(name: "empty file", yaml: "1️⃣", message: "the file is empty"),
        Case(name: "typo in a required key is said once", yaml: "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {1️⃣nmae: t}\ntarget: {local: {}}\n", message: "unknown key 'nmae' in metadata; did you mean 'name'?"),
        Case(name: "typo in a one-of key is said once", yaml: kube + "pods:\n  - 1️⃣nmae: web\n", message: "unknown key 'nmae' in pod; did you mean 'name'?"),
        Case(name: "not a mapping at the top", yaml: "1️⃣- a\n- b\n", message: "expected a mapping (plan), got a list"),
    ]

    @Test(arguments: cases)
    func reportsOneErrorAtTheMark(_ testCase: Case) {
        let fixture = MarkedText(testCase.yaml)
        let loaded = PlanLoader.load(source: fixture.text, path: "plan.yaml")
        let errors = loaded.diagnostics.filter { $0.severity == .error }
        #expect(loaded.plan == nil)
        #expect(errors.count == 1, "\(loaded.printer.render(loaded.diagnostics))")
        guard let error = errors.first else { return }
        #expect(error.line == fixture.line && error.column == fixture.column,
                "expected \(fixture.line):\(fixture.column), got \(error.line):\(error.column): \(error.message)")
        #expect(error.message.contains(testCase.message), "message was: \(error.message)")
    }

    @Test func thereAreAtLeastThirtyCases() {
        #expect(Self.cases.count >= 30)
        #expect(Set(Self.cases.map(\.name)).count == Self.cases.count)
    }

    @Test func allProblemsOfAFileAreReportedInOnePass() {
        let yaml = Self.local + "capture:\n  duraton: 60s\n  filter: tcp prot 443\n  snaplen: 0\n"
        let loaded = PlanLoader.load(source: yaml, path: "plan.yaml")
        #expect(loaded.diagnostics.map(\.line) == [6, 7, 8])
    }

    @Test func diagnosticRendersFileLineColumnSourceAndCaret() {
        let loaded = PlanLoader.load(source: Self.local + "capture:\n  duraton: 60s\n", path: "plans/x.yaml")
        #expect(loaded.printer.render(loaded.diagnostics) == """
            plans/x.yaml:6:3: error: capture: unknown key 'duraton' in capture; did you mean 'duration'?
                duraton: 60s
                ^

            """)
    }
}
