/// capplan's version: `--version`, and the pcapng section header of every run's capture.
public let capplanVersion = "0.2.0"
