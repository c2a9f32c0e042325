-- wrk script: POST a non-streaming chat completion to the demo model.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"aigw-demo","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of France? Answer in one short sentence please."}],"temperature":0.2,"max_tokens":64}'
