--- acl: authorizes actions with an ordered list of rules; the first rule
-- that matches the (principal, action, resource) decides, and when none
-- does the plugin abstains (nil), leaving the question to the next auth
-- plugin (with none left, the broker denies: fail closed).
--
-- params:
--   rules  (array, required) each rule a table:
--     allow      (boolean, required) true allows, false denies
--     principal  (string, default "*") a principal name, or "*" for every
--                client, anonymous ones included
--     actions    (default "*") "*" or a list of actions: "produce",
--                "fetch", "list_offsets", "offset_fetch", "create_topic",
--                "delete_topic", "describe", "commit", "list_groups",
--                "admin". A consumer needs "fetch" and "list_offsets" on
--                its topics (plus "describe" to find their partitions), and
--                "offset_fetch" and "commit" on its group.
--     topics     a glob (or a list of globs) over topic names
--     groups     a glob (or a list of globs) over consumer group names
--     cluster    (boolean) true: the rule covers cluster-wide resources
--   A rule with none of topics, groups and cluster = true covers every
--   resource.
--   Globs: "*" matches any run of characters (none included), "?" exactly
--   one; everything else matches itself ("orders-*", "logs.??", "*").
--
-- Example: { allow = true, principal = "billing", actions = {"produce"},
--            topics = "invoices*" }

local plugin = {name = "acl"}

plugin.schema = {
  rules = {type = "array", required = true, items = {type = "table", fields = {
    allow = {type = "boolean", required = true},
    principal = {type = "string", default = "*"},
    actions = {type = "any", default = "*"},
    topics = "any",
    groups = "any",
    cluster = "boolean",
  }}},
}

-- The anchored Lua pattern of a glob.
local function glob_pattern(glob)
  local p = glob:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0")
  return "^" .. p:gsub("%*", ".*"):gsub("%?", ".") .. "$"
end

-- A list of strings from a string or a list of them; raises at path.
local function strings(v, path)
  if type(v) == "string" then return {v} end
  if type(v) ~= "table" or #v == 0 then
    error(path .. ": expected a string or a non-empty list of strings", 0)
  end
  for i, s in ipairs(v) do
    if type(s) ~= "string" then error(path .. "[" .. i .. "]: expected string", 0) end
  end
  return v
end

local function patterns(v, path)
  if v == nil then return nil end
  local out = {}
  for i, glob in ipairs(strings(v, path)) do out[i] = glob_pattern(glob) end
  return out
end

-- The actions the broker asks about (include/flyq/plugins.h,
-- FLYQ_ACTION_*), and "*".
local ACTIONS = {}
for a in ("* produce fetch list_offsets offset_fetch create_topic " ..
          "delete_topic describe commit list_groups admin"):gmatch("%S+") do
  ACTIONS[a] = true
end

local function compile(rule, path)
  local actions = {}
  for i, a in ipairs(strings(rule.actions, path .. ".actions")) do
    if not ACTIONS[a] then
      error(string.format('%s.actions%s: unknown action "%s" (actions: produce, ' ..
                          "fetch, list_offsets, offset_fetch, create_topic, " ..
                          "delete_topic, describe, commit, list_groups, admin, *)",
                          path, type(rule.actions) == "table" and "[" .. i .. "]" or "",
                          a), 0)
    end
    actions[a] = true
  end
  -- cluster = false names no resource: such a rule covers every one,
  -- as one without the key does (a deny must not be skipped).
  local any = rule.topics == nil and rule.groups == nil and not rule.cluster
  return {allow = rule.allow, principal = rule.principal, actions = actions,
          any = any, cluster = rule.cluster == true,
          topic = patterns(rule.topics, path .. ".topics"),
          group = patterns(rule.groups, path .. ".groups")}
end

function plugin.init(params, ctx)
  ctx.state.rules = {}
  for i, rule in ipairs(params.rules) do
    ctx.state.rules[i] = compile(rule, "params.rules[" .. i .. "]")
  end
end

local function any_match(pats, name)
  for _, p in ipairs(pats or {}) do
    if name:find(p) then return true end
  end
  return false
end

local function covers(rule, resource)
  if rule.any then return true end
  if resource == "cluster" then return rule.cluster end
  local kind, name = resource:match("^(%a+):(.*)$")
  return (kind == "topic" and any_match(rule.topic, name))
      or (kind == "group" and any_match(rule.group, name))
end

function plugin.authorize(principal, action, resource, ctx)
  for _, rule in ipairs(ctx.state.rules) do
    if (rule.principal == "*" or rule.principal == principal)
        and (rule.actions["*"] or rule.actions[action])
        and covers(rule, resource) then
      return rule.allow
    end
  end
  return nil
end

return plugin
