# METADATA
# description: |
#   Benchmark 12's ablation: lifetimes.rego as if it cost nothing for
#   benchmark 11's student input, where nothing decides a lifetime.
package jupyterhub.spawn.lifetimes

lifetime := {}
