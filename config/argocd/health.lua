-- Argo CD health check of sextant's ObservabilityStack
-- (observability.sextant.dev/v1alpha1). Install it as the argocd-cm key
-- resource.customizations.health.observability.sextant.dev_ObservabilityStack
-- (argocd-cm.yaml next to this file; docs/gitops.md). Argo CD runs it with
-- gopher-lua (Lua 5.1); tests/argocd_health.rs runs it with Lua 5.1 (lupa)
-- on statuses sextant's own status code computes.
--
-- Healthy: the current generation is reconciled and every component Ready.
-- Progressing: the operator has not caught up, or components are starting.
-- Suspended: spec.paused is true.
-- Degraded: the spec is invalid, an apply failed, a volume cannot be
-- resized, or a referenced Secret is missing.
local hs = { status = "Progressing", message = "Waiting for the sextant operator" }

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.message = "Deleting"
  return hs
end
if obj.status == nil or obj.status.conditions == nil then
  return hs
end

local function condition(t)
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then
      return c
    end
  end
  return nil
end

local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for generation " .. generation .. " to be reconciled"
  return hs
end

local reconciled = condition("Reconciled")
if reconciled ~= nil and reconciled.status ~= "True" then
  if reconciled.reason == "Paused" then
    hs.status = "Suspended"
  else
    hs.status = "Degraded"
  end
  hs.message = (reconciled.reason or "NotReconciled") .. ": " .. (reconciled.message or "")
  return hs
end

for _, c in ipairs(obj.status.conditions) do
  if c.status == "False" and c.reason == "SecretNotFound" then
    hs.status = "Degraded"
    hs.message = c.type .. " " .. c.reason .. ": " .. (c.message or "")
    return hs
  end
end

local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "All components are ready"
elseif ready ~= nil then
  hs.message = ready.message or ready.reason or hs.message
end
return hs
