// nst serve's page: plain JS over GET /v1/models and POST /v1/stylize (no build step).
"use strict";

const $ = (id) => document.getElementById(id);
let models = [];
let resultUrl = null;

function current() {
  return models.find((m) => m.name === $("model").value);
}

function showStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// One slider per style for multi-style models; style 0 starts at 100 %.
function renderStyles(model) {
  const needs = model.needs;
  const sliders = $("sliders");
  sliders.replaceChildren();
  $("styles").hidden = !needs.style_choice;
  $("style-image-row").hidden = !needs.style_image;
  $("seed-row").hidden = !needs.seed;
  $("family").textContent = `${model.family} model` +
    (model.styles.length ? `, styles: ${model.styles.join(", ")}` : "");
  if (!needs.style_choice) return;
  for (let i = 0; i < needs.num_styles; i++) {
    const name = model.styles[i] || `style ${i}`;
    const row = document.createElement("label");
    row.className = "slider";
    row.innerHTML = `<span></span><input type="range" min="0" max="100" value="${i === 0 ? 100 : 0}"
      class="weight" data-style="${i}"><output></output>`;
    row.querySelector("span").textContent = name;
    sliders.append(row);
  }
  sliders.querySelectorAll(".weight").forEach((s) => s.addEventListener("input", updateWeights));
  updateWeights();
}

// The sliders as a convex mix "w0,w1,..." (sum 1), or null when every slider is at 0.
function updateWeights() {
  const values = [...document.querySelectorAll(".weight")].map((s) => Number(s.value));
  const total = values.reduce((a, b) => a + b, 0);
  const outputs = document.querySelectorAll(".slider output");
  values.forEach((v, i) => { outputs[i].textContent = total ? `${Math.round(100 * v / total)}%` : "0%"; });
  if (!total) return null;
  return values.map((v) => (v / total).toFixed(6)).join(",");
}

async function loadModels() {
  const response = await fetch("/v1/models");
  const body = await response.json();
  models = body.models;
  const select = $("model");
  for (const m of models) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = `${m.name} (${m.family})`;
    select.append(option);
  }
  select.value = body.default;
  renderStyles(current());
}

function request(model) {
  const form = new FormData();
  form.append("image", $("photo").files[0]);
  form.append("model", model.name);
  if (model.needs.style_choice) {
    const weights = updateWeights();
    if (!weights) throw new Error("move at least one style slider above 0");
    form.append("style_weights", weights);
  }
  if (model.needs.style_image) {
    if (!$("style-image").files.length) throw new Error("choose a style image for this style-swap model");
    form.append("style_image", $("style-image").files[0]);
  }
  if (model.needs.seed) form.append("seed", $("seed").value || "0");
  return form;
}

async function stylize(event) {
  event.preventDefault();
  const model = current();
  let form;
  try {
    form = request(model);
  } catch (error) {
    showStatus(error.message, true);
    return;
  }
  const accept = $("format").value;
  $("stylize").disabled = true;
  showStatus("stylizing…", false);
  const start = performance.now();
  try {
    const response = await fetch("/v1/stylize", { method: "POST", body: form, headers: { Accept: accept } });
    if (!response.ok) {
      const body = await response.json().catch(() => ({ error: response.statusText }));
      throw new Error(`${response.status}: ${body.error}`);
    }
    const blob = await response.blob();
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    resultUrl = URL.createObjectURL(blob);
    $("result").src = resultUrl;
    const link = $("download");
    link.href = resultUrl;
    link.download = `stylized.${accept === "image/jpeg" ? "jpg" : "png"}`;
    link.hidden = false;
    const ms = Math.round(performance.now() - start);
    showStatus(`${response.headers.get("X-Image-Size")} with ${model.name} in ${ms} ms`, false);
  } catch (error) {
    showStatus(error.message, true);
  } finally {
    $("stylize").disabled = false;
  }
}

$("photo").addEventListener("change", () => {
  const file = $("photo").files[0];
  if (file) $("original").src = URL.createObjectURL(file);
});
$("model").addEventListener("change", () => renderStyles(current()));
$("form").addEventListener("submit", stylize);
loadModels().catch((error) => showStatus(`cannot list models: ${error.message}`, true));
