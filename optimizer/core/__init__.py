"""What every scenario kind uses: errors, the kinds registry, safe YAML, the schema base, reading a scenario file."""
