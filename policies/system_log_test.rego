package system.log_test

import data.system.log

test_auth_state_masked if {
	"/input/user/auth_state" in log.mask
}
