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
	texts.unknown_key_text("quotas", "userz", {"users", "hub"}) == "quotas.userz is not a known key (known: hub, users)"
	texts.unknown_key_text("", "imagez", {"images"}) == "imagez is not a known key (known: images)"
}
