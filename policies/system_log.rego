# METADATA
# title: Mask secrets in OPA's decision logs
# description: |
#   PolicyKubeSpawner sends auth_state only when the admin turns on
#   policy_send_auth_state; it often holds access tokens, so OPA's decision
#   log never shows it.
package system.log

mask contains "/input/user/auth_state"
