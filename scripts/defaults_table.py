"""Print the built-in defaults table in Markdown (paste between the defaults-table markers of the docs)."""

from pytest_rollout.gate.defaults import defaults_table

if __name__ == "__main__":
    print(defaults_table())
