# capplan: the two commands README.md starts with, and a few more.
.PHONY: demo demo-local install k8s-up k8s-down lab-up lab-down test deps build fuzz bench bench-redact bench-path bench-apply bench-apply-builds bench-keep bench-scale bench-k8s schema clean

SWIFT ?= swift

## demo: install what is needed, build, bring the Kubernetes lab up if it is not (root needed; the
##       first time builds Kubernetes: minutes) and run examples/lab/lb-rst.yaml end to end:
##       capplan apply prints the summary (who reset the connection) and the verdict
demo: build
	scripts/demo

## demo-local: the same failure on the local lab of network namespaces, without Kubernetes
demo-local: build
	.build/debug/capplan validate plans/*.yaml examples/local/*.yaml
	scripts/lab/local-lab up
	.build/debug/capplan apply examples/local/idle-reset.yaml; status=$$?; scripts/lab/local-lab down; exit $$status

## install: capplan (release, runtime linked in: scripts/build-release) and its kubectl plugin name
##          (kubectl capplan ...) into PREFIX/bin
PREFIX ?= /usr/local
install: deps
	install -D -m 755 "$$(SWIFT=$(SWIFT) scripts/build-release)" $(PREFIX)/bin/capplan
	ln -sf capplan $(PREFIX)/bin/kubectl-capplan

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

## bench-k8s: apply on the Kubernetes lab: helper Ready -> first packet, and the packet rate
##            through kubectl exec against kubectl exec tcpdump -w - > file (ROUNDS=3 COUNT=200000)
bench-k8s: deps
	scripts/bench-k8s $(or $(ROUNDS),3) $(or $(COUNT),200000)

## bench: capplan report against a C libpcap loop and tshark on 1.2M packets, interleaved
bench: deps
	scripts/bench-report $(ROUNDS) $(PACKETS)

## bench-redact: capplan redact against editcap, tcprewrite and pktanon, interleaved
bench-redact: deps
	scripts/bench-redact $(ROUNDS) $(PACKETS)

## bench-path: capplan report over three points of a path (NAT between them) against one point's report
bench-path: deps
	scripts/bench-path $(ROUNDS) $(PACKETS)

## bench-scale: report as work grows: 250k and 1M connections, a 1 GB and a 10 GB stream (piped, not
##              stored): cost per packet against the floor, peak RSS, evictions (ROUNDS=3)
bench-scale: deps
	scripts/bench-scale $(or $(ROUNDS),3)

## bench-keep: capture.keep's ring against a plain capture: CPU per packet, peak RSS against the ring's bound
bench-keep: deps
	scripts/bench-keep $(or $(ROUNDS),3) $(or $(PACKETS),600000) $(or $(PPS),100000)

## bench-apply: capplan apply against tcpdump, capturing iperf3 through a pod's veth on the lab
bench-apply: deps
	scripts/bench-apply $(SECONDS) $(ROUNDS)

## bench-apply-builds: capplan builds against each other at the same capture, interleaved in one run
##                     (BUILDS="/tmp/capplan-before .build/static/release/capplan" ROUNDS=4 SECONDS=8)
bench-apply-builds: deps
	scripts/bench-apply-builds $(or $(ROUNDS),4) $(or $(SECONDS),8) $(BUILDS)

## schema: regenerate the committed JSON Schema and field reference after changing PlanSchema
schema: build
	.build/debug/capplan schema > schema/capplan-v1.schema.json
	.build/debug/capplan schema --format markdown > docs/plan-reference.md

clean:
	rm -rf .build
