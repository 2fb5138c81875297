import CapplanLoad
import Foundation
import Testing

struct ShippedPlanTests {
    @Test func thereAreShippedPlans() {
        let names = Repository.shippedPlans().map(\.lastPathComponent)
        for expected in ["lb-rst.yaml", "ingress-any.yaml", "dns-failures.yaml", "db-refused.yaml"] {
            #expect(names.contains(expected))
        }
    }

    @Test(arguments: Repository.shippedPlans())
    func shippedPlanIsValidWithoutWarnings(_ url: URL) throws {
        let loaded = try PlanLoader.load(path: url.path)
        #expect(loaded.diagnostics.isEmpty, "\(loaded.printer.render(loaded.diagnostics))")
        #expect(loaded.plan != nil)
    }

    @Test func lbRstSaysWhatTheRunbookAsks() throws {
        let plan = try #require(try PlanLoader.load(path: Repository.url("plans/lb-rst.yaml").path).plan)
        #expect(plan.capture.filter == "tcp port 443")
        #expect(plan.interfaces == .pods)
        #expect(plan.stop?.when == .reset)
        #expect(plan.expectations.first?.event == .reset)
        #expect(plan.target.kubernetes?.namespace == "myapp")
        #expect(plan.pods.first?.namespace == "myapp")
    }

    @Test func defaultsComeFromTheSchema() throws {
        let yaml = "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: t}\ntarget: {kubernetes: {}}\npods: [{name: web}]\n"
        let plan = try #require(PlanLoader.load(source: yaml, path: "p.yaml").plan)
        #expect(plan.capture.filter == "")
        #expect(plan.target.kubernetes?.context == nil)
        #expect(plan.target.kubernetes?.kubeconfig == nil)
        #expect(plan.pods.first?.container == nil)
        #expect(plan.reproduce.isEmpty && plan.stop == nil && plan.expectations.isEmpty)
        #expect(plan.capture.duration == .seconds(60))
        #expect(plan.capture.snaplen == 262_144)
        #expect(plan.capture.helperImage == PlanSchema.defaultHelperImage)
        #expect(plan.target.kubernetes?.namespace == "default")
        #expect(plan.target.kubernetes?.helperNamespace == "capplan-system")
        #expect(plan.pods.first?.namespace == "default")
        #expect(plan.interfaces == .pods)
        #expect(plan.redaction.payload == .drop)
        #expect(plan.outputDirectory == "runs/{name}/{time}")
        #expect(plan.target.isolation == .none)
    }

    @Test func nullMeansAnEmptyMappingForLocal() throws {
        let yaml = "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: t}\ntarget:\n  local:\n"
        let loaded = PlanLoader.load(source: yaml, path: "p.yaml")
        #expect(loaded.plan?.target.kind == .local(netns: nil))
    }

    @Test func redactNoneKeepsEverything() throws {
        let yaml = "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: t}\ntarget: {local: {}}\nredact: none\n"
        #expect(PlanLoader.load(source: yaml, path: "p.yaml").plan?.redaction == Redaction.none)
    }

    @Test func warningsDoNotMakeAPlanInvalid() throws {
        let yaml = "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: t}\ntarget: {local: {}}\ncapture: {snaplen: 64}\n"
        let loaded = PlanLoader.load(source: yaml, path: "p.yaml")
        #expect(loaded.plan != nil)
        #expect(loaded.diagnostics.map(\.severity) == [.warning])
    }

    @Test func unreadableFileIsAReadErrorNotACrash() {
        #expect(throws: PlanReadError.self) { try PlanLoader.load(path: "/nonexistent/plan.yaml") }
        #expect(throws: PlanReadError.self) { try PlanLoader.load(path: Repository.url("plans").path) }
    }
}
