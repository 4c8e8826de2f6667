-- wrk script for bench/run scenarios 1 and 4: every request creates one Leads record.
-- The token comes from the environment (HERALD_TOKEN); nginx ignores it and answers 204.
wrk.method = "POST"
wrk.body = '{"data":[{"Last_Name":"Bench"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Zoho-oauthtoken " .. (os.getenv("HERALD_TOKEN") or "none")
