# capplan: the two commands README.md starts with, and a few more.
.PHONY: demo test deps build fuzz bench bench-redact schema clean

SWIFT ?= swift

## demo: install what is needed, build, validate every shipped plan, show the steps of plans/lb-rst.yaml,
##       and report on the recorded runbook failure in examples/captures
demo: build
	.build/debug/capplan validate plans/*.yaml
	.build/debug/capplan plan plans/lb-rst.yaml
	.build/debug/capplan report examples/captures/lb-rst-idle.pcap --labels examples/captures/lb-rst-idle.labels.yaml

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

## schema: regenerate the committed JSON Schema and field reference after changing PlanSchema
schema: build
	.build/debug/capplan schema > schema/capplan-v1.schema.json
	.build/debug/capplan schema --format markdown > docs/plan-reference.md

clean:
	rm -rf .build
