# Tests of lib_texts.rego, called as another policy would call them.
package jupyterhub.lib.texts_test

import data.jupyterhub.lib.texts

test_problems_in_one_message_of_bounded_length if {
	texts.problems_text({"b", "a"}) == "a; b"
	texts.problems_text({"c", "a", "b"}) == "a; b; c"
	texts.problems_text({"e", "d", "c", "b", "a"}) == "a; b; c; and 2 more"
}

test_keys_listed_up_to_five if {
	texts.keys_text(["a", "b"]) == "a, b"
	texts.keys_text(["a", "b", "c", "d", "e"]) == "a, b, c, d, e"
	texts.keys_text(["a", "b", "c", "d", "e", "f", "g"]) == "a, b, c, d, e and 2 more"
}

test_long_texts_shortened if {
	forty := concat("", ["x" | some _ in numbers.range(1, 40)])
	texts.short(forty) == forty
	texts.short(concat("", [forty, "y"])) == concat("", [substring(forty, 0, 37), "..."])
	texts.keys_text([concat("", [forty, "y"])]) == concat("", [substring(forty, 0, 37), "..."])
}

test_unknown_keys_named_with_the_known_ones if {
	texts.unknown_key_text("quotas", "usrs", {"users", "hub"}) == "quotas.usrs is not a known key (did you mean users? known: hub, users)"
	texts.unknown_key_text("", "pictures", {"images"}) == "pictures is not a known key (known: images)"
	texts.unknown_key_text("max", "mem", {"mems", "mex", "cpu"}) == "max.mem is not a known key (did you mean mems or mex? known: cpu, mems, mex)"
}

test_close_keys_are_one_typo_away if {
	known := {"images", "image_repositories", "cpu_limit", "mem_limit", "max"}
	texts.close_keys("IMAGES", known) == ["images"] # letter case
	texts.close_keys("image", known) == ["images"] # one left out
	texts.close_keys("mem_limits", known) == ["mem_limit"] # one added
	texts.close_keys("imagez", known) == ["images"] # one changed
	texts.close_keys("imgaes", known) == ["images"] # two swapped
	texts.close_keys("cpu_limti", known) == ["cpu_limit"] # the last two swapped
	texts.close_keys("xmages", known) == ["images"] # the first changed
	texts.close_keys("mages", known) == ["images"] # the first left out
	texts.close_keys("miages", known) == ["images"] # the first two swapped
	texts.close_keys("imagesx", known) == ["images"] # one added at the end
}

test_keys_two_typos_away_or_the_same_are_not_close if {
	known := {"images", "image", "max"}
	texts.close_keys("imajez", known) == [] # two changed
	texts.close_keys("imag", known) == ["image"] # "images" is two left out
	texts.close_keys("images", known) == ["image"] # never the key itself
	texts.close_keys("", known) == []
	texts.close_keys("gmiaes", known) == [] # swapped, but not neighbours
}
