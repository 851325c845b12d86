#!/usr/bin/env bash
# Replays the Mosaic guide's own curl requests (Step 2 enable CIBA, Step 3 initiate, Step 4 poll,
# and the Step 1 completion callback) against a freshly started countersign-provider, and checks
# each answer against the guide's table. Usage: replay.sh PATH/TO/countersign-provider
set -euo pipefail

BIN=${1:?usage: replay.sh PATH/TO/countersign-provider}
# A fresh provider on a free port (BASE), stopped and its data removed on exit.
. "$(dirname "$0")/../start-provider.sh"
start_provider "$BIN" replay

CLIENT_ID=agent-console
CLIENT_SECRET=demo-console-secret
failures=0

# request METHOD PATH [curl args...]: sets STATUS and BODY.
request() {
  local method=$1 path=$2; shift 2
  local out
  out=$(curl -s -X "$method" "$BASE$path" -w '\n%{http_code}' "$@")
  STATUS=${out##*$'\n'}
  BODY=${out%$'\n'*}
}
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]); print(v.get(sys.argv[2], "") if isinstance(v, dict) else "")' "$BODY" "$1"; }
expect() {
  local what=$1 status=$2 error=${3:-}
  if [ "$STATUS" != "$status" ] || { [ -n "$error" ] && [ "$(field error)" != "$error" ]; }; then
    echo "  FAIL  $what: expected $status ${error:-} got $STATUS $BODY"
    failures=$((failures + 1))
  else
    echo "  ok    $what: $STATUS ${error:-}"
  fi
}

echo "replay: Mosaic guide requests against $BASE"

# A client access token for the management and one-time-login APIs.
request POST /oidc/token -d client_id=$CLIENT_ID -d client_secret=$CLIENT_SECRET -d grant_type=client_credentials
expect "client access token" 200
ACCESS_TOKEN=$(field access_token)

# Step 2: enable CIBA (the guide's PUT, verbatim but for the placeholders).
request PUT /cis/v1/applications/demo-bank/clients/$CLIENT_ID \
  -H "Authorization: Bearer $ACCESS_TOKEN" -H 'Content-Type: application/json' \
  -d '{
    "ciba_authorization": {
      "enabled": true,
      "login_uri": "http://127.0.0.1:3000/approve"
    }
  }'
expect "Step 2: enable CIBA" 200

# Step 3: initiate by SMS (the guide's default), by email with a custom message, and as a link.
request POST /cis/oidc/backchannel -H 'Content-Type: application/x-www-form-urlencoded' \
  -d client_id=$CLIENT_ID -d client_secret=$CLIENT_SECRET -d scope=openid \
  -d login_hint=+15555550101 -d binding_message=MESSAGE
expect "Step 3: initiate (SMS)" 200
AUTH_REQ_ID=$(field auth_req_id)
[ -n "$AUTH_REQ_ID" ] && [ "$(field expires_in)" = 600 ] || { echo "  FAIL  Step 3 answer: $BODY"; failures=$((failures + 1)); }

request POST /cis/oidc/backchannel -d client_id=$CLIENT_ID -d client_secret=$CLIENT_SECRET -d scope=openid \
  -d login_hint=alice@example.com -d binding_message=MESSAGE \
  -d 'request_context={"channel": "email", "login_hint_type": "email", "custom_message": "Ready to authenticate?"}'
expect "Step 3: initiate (email, custom message)" 200

request POST /cis/oidc/backchannel -d client_id=$CLIENT_ID -d client_secret=$CLIENT_SECRET -d scope=openid \
  -d login_hint=+15555550101 -d binding_message=MESSAGE -d 'request_context={"channel": "link"}'
expect "Step 3: initiate (link)" 200
case "$(field link)" in
  "http://127.0.0.1:3000/approve?auth_req_id="*"&binding_message=MESSAGE") echo "  ok    Step 3 link: login_uri?auth_req_id=…&binding_message=…" ;;
  *) echo "  FAIL  Step 3 link: $BODY"; failures=$((failures + 1)) ;;
esac

poll() {
  request POST /oidc/token -H 'Content-Type: application/x-www-form-urlencoded' \
    -d client_id=$CLIENT_ID -d client_secret=$CLIENT_SECRET -d auth_req_id="$1" \
    -d grant_type=urn:openid:params:grant-type:ciba
}

# Step 4, row 1 and 2: pending, then too fast.
poll "$AUTH_REQ_ID"; expect "Step 4: user has not decided" 400 authorization_pending
poll "$AUTH_REQ_ID"; expect "Step 4: polled too frequently" 400 slow_down

# Two fresh requests (approve, deny), so that the first poll after each decision is not early.
request POST /cis/oidc/backchannel -d client_id=$CLIENT_ID -d client_secret=$CLIENT_SECRET -d scope=openid \
  -d login_hint=+15555550101 -d binding_message=MESSAGE -d 'request_context={"channel": "link"}'
APPROVE_ID=$(field auth_req_id)
request POST /cis/oidc/backchannel -d client_id=$CLIENT_ID -d client_secret=$CLIENT_SECRET -d scope=openid \
  -d login_hint=+15555550101 -d 'request_context={"channel": "link"}'
DENY_ID=$(field auth_req_id)

# Step 1: the customer opens the link and signs in (one-time code by email).
request POST /cis/v1/auth/otp/send -H "Authorization: Bearer $ACCESS_TOKEN" -H 'Content-Type: application/json' \
  -d '{"channel": "email", "identifier_type": "email", "identifier": "alice@example.com"}'
expect "one-time code sent" 200
CODE=$(curl -s "$BASE/dev/outbox.json" | python3 -c 'import json,re,sys; print(re.search(r"\b(\d{6})\b", json.load(sys.stdin)[0]["body"]).group(1))')
request POST /cis/v1/auth/otp/authenticate -H "Authorization: Bearer $ACCESS_TOKEN" -H 'Content-Type: application/json' \
  -d "{\"identifier_type\": \"email\", \"identifier\": \"alice@example.com\", \"passcode\": \"$CODE\"}"
expect "customer signed in" 200
USER_ACCESS_TOKEN=$(field access_token)

request POST /cis/auth/backchannel/complete -H "Authorization: Bearer $USER_ACCESS_TOKEN" -H 'Content-Type: application/json' \
  -d "{\"auth_req_id\": \"$APPROVE_ID\", \"approved\": true}"
expect "Step 1: completion callback (approved)" 200
poll "$APPROVE_ID"; expect "Step 4: approved, tokens" 200
[ -n "$(field id_token)" ] && [ -n "$(field access_token)" ] || { echo "  FAIL  token answer: no tokens"; failures=$((failures + 1)); }

# Step 4, denied.
request POST /cis/auth/backchannel/complete -H "Authorization: Bearer $USER_ACCESS_TOKEN" -H 'Content-Type: application/json' \
  -d "{\"auth_req_id\": \"$DENY_ID\", \"approved\": false}"
expect "Step 1: completion callback (denied)" 200
poll "$DENY_ID"; expect "Step 4: user denied" 400 access_denied

# Step 4, expired: covered by the Rust tests on a manual clock (case_5), not replayed here,
# where it would need a real wait.

if [ "$failures" -gt 0 ]; then
  echo "replay: $failures failed"
  exit 1
fi
echo "replay: all answers as the guide lists them"
