--- auth_token: authenticates clients by a static token (mechanism "token",
-- as `flyq ... --token T` sends it) and returns the principal it belongs to.
--
-- params:
--   tokens  (map, required) principal -> token, or principal ->
--           "sha256:<64 hex digits>", the SHA-256 of the token (for example
--           `printf %s "$TOKEN" | sha256sum`), so that the config file need
--           not hold the secret itself.
--
-- Tokens are kept only as SHA-256 digests. A presented token is hashed once
-- and compared with every configured digest with flyq.constant_time_eq,
-- always all of them and always at the same length, so the time taken does
-- not tell whether a principal exists or how much of a token was right. The
-- token is never logged. Other mechanisms are passed to the next auth plugin.

local plugin = {name = "auth_token"}

plugin.schema = {
  tokens = {type = "map", values = "string", required = true, secret = true,
            description = "principal -> token or \"sha256:<hex>\""},
}

-- The digest of one configured token; raises with the params key.
local function digest_of(principal, value)
  local where = "params.tokens." .. principal
  local hex = value:match("^sha256:(.*)$")
  if hex == nil then
    if value == "" then error(where .. ": empty token", 0) end
    return flyq.sha256(value)
  end
  if #hex ~= 64 or hex:find("[^%x]") then
    error(where .. ": expected \"sha256:\" and 64 hex digits", 0)
  end
  return hex:lower()
end

function plugin.init(params, ctx)
  local names, entries, seen = {}, {}, {}
  for principal in pairs(params.tokens) do names[#names + 1] = principal end
  table.sort(names)
  if #names == 0 then error("params.tokens: no tokens given", 0) end
  for i, principal in ipairs(names) do
    if principal == "" then -- a principal must be a non-empty string
      error('params.tokens[""]: empty principal name', 0)
    end
    local digest = digest_of(principal, params.tokens[principal])
    if seen[digest] then
      error("params.tokens." .. principal .. ": same token as " .. seen[digest], 0)
    end
    seen[digest] = principal
    entries[i] = {principal = principal, digest = digest}
  end
  ctx.state.entries = entries
end

function plugin.authenticate(credentials, conn, ctx)
  if credentials.mechanism ~= "token" then
    return nil, "auth_token: mechanism " .. credentials.mechanism .. " not supported"
  end
  local digest, found = flyq.sha256(credentials.token), nil
  for _, e in ipairs(ctx.state.entries) do -- no early exit
    if flyq.constant_time_eq(digest, e.digest) and found == nil then
      found = e.principal
    end
  end
  if found == nil then return nil, "invalid token" end
  return found
end

return plugin
