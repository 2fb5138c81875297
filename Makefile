# capplan: the two commands README.md starts with, and a few more.
.PHONY: demo k8s-up k8s-down lab-up lab-down test deps build fuzz bench bench-redact bench-apply schema clean

SWIFT ?= swift

## demo: install what is needed, build, and run the runbook's failure end to end on the local lab
##       (network namespaces: root needed): capplan apply prints the summary and the verdict
demo: build
	.build/debug/capplan validate plans/*.yaml examples/local/*.yaml
	scripts/lab/local-lab up
	.build/debug/capplan apply examples/local/idle-reset.yaml; status=$$?; scripts/lab/local-lab down; exit $$status

## k8s-up / k8s-down: the Kubernetes lab (a real single-node cluster; builds Kubernetes once per machine)
k8s-up:
	scripts/k8s-lab/lab up
k8s-down:
	scripts/k8s-lab/lab down

## lab-up / lab-down: the local lab the examples/local plans run against
lab-up:
	scripts/lab/local-lab up
lab-down:
	scripts/lab/local-lab down

## test: install what is needed, build, run the whole test suite
test: deps
	$(SWIFT) test

deps:
	scripts/install-deps

build: deps
	$(SWIFT) build

## fuzz: a long run of the loader fuzz test (N=200000 SEED=...)
fuzz: deps
	scripts/fuzz-loader $(N) $(SEED)

## bench: capplan report against a C libpcap loop and tshark on 1.2M packets, interleaved
bench: deps
	scripts/bench-report $(ROUNDS) $(PACKETS)

## bench-redact: capplan redact against editcap, tcprewrite and pktanon, interleaved
bench-redact: deps
	scripts/bench-redact $(ROUNDS) $(PACKETS)

## bench-apply: capplan apply against tcpdump, capturing iperf3 through a pod's veth on the lab
bench-apply: deps
	scripts/bench-apply $(SECONDS) $(ROUNDS)

## schema: regenerate the committed JSON Schema and field reference after changing PlanSchema
schema: build
	.build/debug/capplan schema > schema/capplan-v1.schema.json
	.build/debug/capplan schema --format markdown > docs/plan-reference.md

clean:
	rm -rf .build
