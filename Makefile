# capplan: the two commands README.md starts with, and a few more.
.PHONY: demo test deps build fuzz schema clean

SWIFT ?= swift

## demo: install what is needed, build, validate every shipped plan, show the steps of plans/lb-rst.yaml
demo: build
	.build/debug/capplan validate plans/*.yaml
	.build/debug/capplan plan plans/lb-rst.yaml

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

## schema: regenerate the committed JSON Schema and field reference after changing PlanSchema
schema: build
	.build/debug/capplan schema > schema/capplan-v1.schema.json
	.build/debug/capplan schema --format markdown > docs/plan-reference.md

clean:
	rm -rf .build
