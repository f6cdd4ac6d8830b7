# METADATA
# title: Quantities
# description: |
#   Amounts of CPU and memory as the admin's data writes them and as people
#   read them; the same concept as jhpolicy.core.quantities in Python.
#   Every rule is a function of its arguments alone, so another policy can
#   use them: `import data.jupyterhub.lib.quantities`.
package jupyterhub.lib.quantities

# METADATA
# title: as_number
# description: |
#   An amount in data as a number: cores or bytes. CPU: cores, or a string
#   of cores or millicores ("2", "500m"). Memory: bytes, "2G" or "2Gi", both
#   1024-based as in JupyterHub. Undefined for anything else. `key` is the
#   spawner attribute the amount is for (cpu_limit, mem_guarantee, ...).
as_number(key, value) := value if {
	is_number(value)
} else := units.parse(value) if {
	startswith(key, "cpu_")
	regex.match(`^[0-9]+(\.[0-9]+)?m?$`, value)
} else := units.parse_bytes(concat("", [value, "i"])) if {
	startswith(key, "mem_")
	regex.match(`^[0-9]+(\.[0-9]+)?[KMGT]$`, value)
} else := units.parse_bytes(value) if {
	startswith(key, "mem_")
	regex.match(`^[0-9]+(\.[0-9]+)?[KMGT]i$`, value)
}

# METADATA
# title: whole_number
# description: A number that is whole and 0 or more (servers, GPUs).
whole_number(value) if {
	is_number(value)
	value >= 0
	value == floor(value)
}

# METADATA
# title: duration_seconds
# description: |
#   Seconds in a duration as the data writes it: a whole number of seconds
#   above 0, or a string of digits and one unit ("90s", "90m", "2h", "1d").
#   Undefined for anything else (jhpolicy.core.lifetime reads the same).
# scope: document
duration_seconds(value) := value if {
	whole_number(value)
	value > 0
}

duration_seconds(value) := n * _duration_units[unit] if {
	is_string(value)
	[[_, digits, unit]] := regex.find_all_string_submatch_n(`^([0-9]{1,6})([smhd])$`, value, 1)
	n := to_number(digits)
	n > 0
}

_duration_units := {"s": 1, "m": 60, "h": 3600, "d": 86400}

# METADATA
# title: show
# description: |
#   An amount as people read it, for the attribute `key`: CPU in cores to
#   the millicore ("0.1", not 0.7 - 0.6 in floating point), memory as
#   memory_shown gives it, null as "unlimited", the rest as it is. The
#   spawn page's panel shows the same (jhpolicy.core.quantities.cpu_shown
#   and memory_shown, tests/test_messages.py).
show(key, value) := "unlimited" if {
	is_null(value)
} else := sprintf("%v", [round(value * 1000) / 1000]) if {
	startswith(key, "cpu_")
	is_number(value)
} else := memory_shown(value) if {
	startswith(key, "mem_")
	is_number(value)
} else := sprintf("%v", [value])

# METADATA
# title: memory_shown
# description: |
#   Bytes in the largest of G, M and K the amount reaches, to two decimals
#   ("1.3G" for 1395864371); below 1K as a number.
memory_shown(bytes) := text if {
	some [unit, size] in [["G", 1073741824], ["M", 1048576], ["K", 1024]]
	bytes >= size
	not _larger_unit_fits(bytes, size)
	text := sprintf("%v%s", [round((bytes / size) * 100) / 100, unit])
} else := sprintf("%v", [bytes])

_larger_unit_fits(bytes, size) if {
	some larger in [1073741824, 1048576]
	larger > size
	bytes >= larger
}
