.PHONY: run test install
run:
	scripts/run
test:
	scripts/test
install:
	scripts/bootstrap
