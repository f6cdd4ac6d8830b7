# METADATA
# title: Texts
# description: |
#   Parts of what people read that do not depend on a decision: lists of
#   bounded length, however many items, and the refusal of an unknown key.
#   Functions of their arguments alone: `import data.jupyterhub.lib.texts`.
package jupyterhub.lib.texts

# METADATA
# title: problems_text
# description: |
#   A set of problems as one message of bounded length: all of them sorted
#   and joined by "; " up to 3, else the first 3 and "and N more".
problems_text(problems) := concat("; ", sort(problems)) if {
	count(problems) <= 3
} else := sprintf("%s; and %d more", [concat("; ", array.slice(sort(problems), 0, 3)), count(problems) - 3])

# METADATA
# title: keys_text
# description: |
#   A list of keys as people read it: up to 5, each shortened (short), else
#   the first 5 and "and N more".
keys_text(keys) := concat(", ", [short(k) | some k in keys]) if {
	count(keys) <= 5
} else := sprintf("%s and %d more", [concat(", ", [short(k) | some k in array.slice(keys, 0, 5)]), count(keys) - 5])

# METADATA
# title: short
# description: A text of at most 40 characters, cut with "..." when longer.
short(text) := text if {
	count(text) <= 40
} else := sprintf("%s...", [substring(text, 0, 37)])

# METADATA
# title: unknown_key_text
# description: |
#   "<path>.<key> is not a known key (known: ...)": how the data's checks
#   name a key where only `known` ones are accepted (path may be "").
unknown_key_text(path, key, known) := sprintf(
	"%s is not a known key (known: %s)",
	[concat(".", [p | some p in [path, key]; p != ""]), concat(", ", sort(known))],
)
