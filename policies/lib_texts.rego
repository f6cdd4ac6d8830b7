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
#   name a key where only `known` ones are accepted (path may be ""). A
#   known key one typo away (close_keys) is offered first: "(did you mean
#   images? known: ...)".
unknown_key_text(path, key, known) := sprintf(
	"%s is not a known key (%sknown: %s)",
	[concat(".", [p | some p in [path, key]; p != ""]), _did_you_mean(key, known), concat(", ", sort(known))],
)

_did_you_mean(key, known) := sprintf("did you mean %s? ", [concat(" or ", close)]) if {
	close := close_keys(key, known)
	count(close) > 0
} else := ""

# METADATA
# title: close_keys
# description: |
#   The known keys (sorted) one typo away from `key`: the same but for
#   letter case, or one character left out, added, changed, or swapped with
#   its neighbour ("imgaes", "image", "cpu_limt", "mem_limits").
close_keys(key, known) := sort({k |
	some k in known
	k != key
	_one_typo(key, k)
})

_one_typo(a, b) if lower(a) == lower(b)

_one_typo(a, b) if _one_left_out(a, b)

_one_typo(a, b) if _one_left_out(b, a)

_one_typo(a, b) if {
	count(a) == count(b)
	count([i | some i in _positions(a); substring(a, i, 1) != substring(b, i, 1)]) == 1
}

_one_typo(a, b) if {
	some i in _positions(a)
	concat("", [substring(a, 0, i), substring(a, i + 1, 1), substring(a, i, 1), substring(a, i + 2, count(a))]) == b
}

# `short` is `long` with one character left out.
_one_left_out(long, short) if {
	some i in _positions(long)
	concat("", [substring(long, 0, i), substring(long, i + 1, count(long))]) == short
}

# The indexes of a text's characters (none for "").
_positions(text) := [i | some i, _ in split(text, "")]
