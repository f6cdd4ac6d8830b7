# Tests of lib_quantities.rego: the library's functions, called as another
# policy would call them.
package jupyterhub.lib.quantities_test

import data.jupyterhub.lib.quantities

test_amounts_in_data_as_numbers if {
	quantities.as_number("cpu_limit", 2) == 2
	quantities.as_number("cpu_limit", "2") == 2
	quantities.as_number("cpu_limit", "1.5") == 1.5
	quantities.as_number("cpu_limit", "500m") == 0.5
	quantities.as_number("mem_limit", "2G") == 2147483648
	quantities.as_number("mem_limit", "2Gi") == 2147483648
	quantities.as_number("mem_limit", "1.5M") == 1572864
	quantities.as_number("mem_limit", 1024) == 1024
}

test_what_is_not_an_amount_has_no_number if {
	not quantities.as_number("cpu_limit", "2 cores")
	not quantities.as_number("cpu_limit", "2G")
	not quantities.as_number("mem_limit", "500m")
	not quantities.as_number("mem_limit", "2 G")
	not quantities.as_number("mem_limit", "2g")
	not quantities.as_number("servers", "2")
	not quantities.as_number("cpu_limit", true)
}

test_whole_numbers if {
	quantities.whole_number(0)
	quantities.whole_number(3)
	not quantities.whole_number(1.5)
	not quantities.whole_number(-1)
	not quantities.whole_number("2")
}

test_cpu_shown_to_the_millicore if {
	quantities.show("cpu_limit", 0.7 - 0.6) == "0.1"
	quantities.show("cpu_guarantee", 0.1234) == "0.123"
	quantities.show("cpu_limit", 2) == "2"
	quantities.show("cpu_limit", null) == "unlimited"
}

test_large_cpu_numbers_are_not_shown_as_memory if {
	quantities.show("cpu_limit", 2097152) == "2097152"
	quantities.show("cpu_limit", 2147483648) == "2147483648"
	quantities.show("mem_limit", 2097152) == "2M"
}

test_memory_units_are_exact_powers_of_1024 if {
	quantities.show("mem_limit", 102400) == "100K"
	quantities.show("mem_limit", 1053819) == "1.01M"
	quantities.show("servers", 2048) == "2048"
}

test_durations if {
	quantities.duration_seconds(1) == 1
	quantities.duration_seconds(90) == 90
	quantities.duration_seconds("90s") == 90
	quantities.duration_seconds("90m") == 5400
	quantities.duration_seconds("2h") == 7200
	quantities.duration_seconds("1d") == 86400
	every bad in [0, -5, 1.5, "0h", "2 h", "2H", "1h30m", "h", "1234567s", true, null, [1], "", "-1h"] {
		not quantities.duration_seconds(bad)
	}
}
