/* The calculator: will it run, and how fast?
 *
 * Every hardware-independent number (weight bytes by part, KV bytes per token, recurrent state,
 * compute buffers, bytes read per token, prefill FLOPs), the machines, the fitted speed factors and
 * the engine's settings come from the Python engine through the embedded JSON (macros/calculator.py).
 * This file repeats only the placement arithmetic of macros/engine/placement.py and the speed
 * arithmetic of macros/engine/speed.py, in the same order, so the figures match the engine's;
 * tests/test_calculator_browser.py checks that on random inputs. No dependencies, no requests.
 */
(function () {
  "use strict";

  var root = document.getElementById("calc");
  var dataEl = document.getElementById("calc-data");
  if (!root || !dataEl) return;
  var D = JSON.parse(dataEl.textContent);
  var S = D.settings;
  var base = root.getAttribute("data-base") || "../";

  // ------------------------------------------------------------------ lookups

  function index(list) {
    var out = {};
    for (var i = 0; i < list.length; i++) out[list[i].id] = list[i];
    return out;
  }
  var MODELS = index(D.models), QUANTS = index(D.quants), HW = index(D.hardware),
      RIGS = index(D.rigs), RUNTIMES = index(D.runtimes);
  var QUANT_POS = {};
  D.quants.forEach(function (q, i) { QUANT_POS[q.id] = i; });
  var KV_POS = {};
  D.kv_types.forEach(function (k, i) { KV_POS[k] = i; });
  var has = function (obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); };

  function dev(a, name) {
    return { kind: a[0], mem: a[1], bw: a[2], flops: a[3], backend: a[4], link: a[5], hbm: !!a[6], vendor: a[7] || "",
             name: name || "" };
  }
  function sum(xs) { var t = 0; for (var i = 0; i < xs.length; i++) t += xs[i]; return t; }

  // ------------------------------------------------------------------ machines (engine/machine.py)

  function macosFraction(memBytes) {
    for (var i = 0; i < S.macos.length; i++) {
      var below = S.macos[i][0];
      if (below === null || memBytes < below) return S.macos[i][1];
    }
    return S.macos[S.macos.length - 1][1];
  }

  /** The machine for a state: {kind, acc: [device], usable: [bytes], host, link, names}. */
  function machineFor(st) {
    var acc = [], usable = [], host = null, link = "none", names = [], i;
    if (st.mode === "rig") {
      var r = RIGS[st.rig];
      for (i = 0; i < r.acc.length; i++) acc.push(dev(r.acc[i], r.names[i]));
      usable = r.usable ? r.usable.slice() : [];
      host = r.host ? dev(r.host, "system RAM") : null;
      link = r.link;
    } else if (st.mode === "custom") {
      var C = D.custom, backend = C.backend[st.kind];
      var d = { kind: st.kind, mem: st.mem * C.mem_unit, bw: st.bw * C.bw_unit,
                flops: st.tf ? st.tf * C.tflops_unit : null, backend: backend, link: C.link,
                name: "custom " + st.kind };
      if (st.kind === "cpu") {
        host = d;
      } else {
        for (i = 0; i < st.n; i++) {
          acc.push(d);
          usable.push(st.kind === "unified"
            ? d.mem * (backend !== "metal" ? S.unified : macosFraction(d.mem))
            : d.mem - S.overhead);
        }
        if (st.ram && st.kind === "gpu") {
          host = { kind: "cpu", mem: st.ram * C.ram_unit, bw: C.ram_bw, flops: null, backend: "cpu", link: null,
                   name: "system RAM" };
        }
        link = st.n > 1 ? "pcie" : "none";
      }
    } else {
      var h = HW[st.hw], hd = dev(h.dev, h.name);
      if (h.kind === "cpu") {
        host = dev(h.dev, h.name);
        host.mem = (st.ram || h.gb) * S.ram_unit;
      } else {
        for (i = 0; i < st.n; i++) { acc.push(hd); usable.push(h.usable[0]); }
        if (st.ram && h.kind === "gpu") {
          host = dev(D.platform.dev, "system RAM");
          host.mem = st.ram * S.ram_unit;
        }
        link = h.nvlink && st.n > 1 ? "nvlink" : (st.n > 1 ? "pcie" : "none");
      }
    }
    var kind = !acc.length ? "cpu" : (acc[0].kind === "unified" ? "unified" : "gpu");
    return { kind: kind, acc: acc, usable: usable, host: host, link: link, ram: host ? host.mem : 0 };
  }

  // ------------------------------------------------------------------ placement (engine/placement.py)

  function place(M, mem) {
    var weights = mem.weights;
    var resident = weights + mem.kv + mem.rs + mem.vision;
    var L = mem.layers, i;
    function result(p, fits, runs, device, ram, off, ngl, ncm, budget, headroom, short) {
      return { placement: p, fits: fits, runs: runs, device: device, ram: ram, offloaded: off, gpu_layers: ngl,
               n_cpu_moe: ncm, budget: budget, headroom: headroom, shortfall: short };
    }
    if (M.kind === "cpu") {
      var usable = M.ram - S.os;
      var need = resident + mem.cb;
      var ok = need <= usable;
      return result(ok ? "cpu" : "does_not_fit", false, ok, [], need, ok ? 1.0 : 0.0, 0, null, 0.0,
                    usable - need, Math.max(0.0, need - usable));
    }
    var budgets = M.usable.map(function (u) { return u - mem.cb; });
    var budget = sum(budgets);
    var n = M.acc.length;
    if (resident <= budget) {
      var device = budgets.map(function (b) { return resident * b / budget + mem.cb; });
      var kind = M.kind === "unified" ? "unified" : (n === 1 ? "gpu" : "layer_split");
      return result(kind, true, true, device, 0.0, 0.0, L, null, budget, budget - resident, 0.0);
    }
    if (M.kind === "unified") {
      var whole = M.acc[0].mem - S.os - mem.cb;
      if (resident <= whole) {
        return result("unified_raised_cap", false, true, [resident + mem.cb], 0.0, 0.0, L, null, budget,
                      budget - resident, 0.0);
      }
      return result("does_not_fit", false, false, [], 0.0, 0.0, null, null, budget, budget - resident,
                    resident - whole);
    }
    var ramUsable = Math.max(M.ram - S.os, 0.0);
    var perLayerFixed = (mem.kv + mem.rs) / L;
    if (mem.moe && M.host) {
      var expertsPerLayer = mem.routed / L;
      var nonExpert = resident - mem.routed;
      if (nonExpert <= budget) {
        var ncm = Math.min(L, Math.ceil((resident - budget) / expertsPerLayer));
        var inRam = ncm * expertsPerLayer;
        if (inRam <= ramUsable) {
          var gpu = resident - inRam;
          return result("moe_expert_offload", false, true,
                        budgets.map(function (b) { return gpu * b / budget + mem.cb; }), inRam, inRam / weights,
                        L, ncm, budget, budget - gpu, 0.0);
        }
      }
    }
    var head = mem.lm_head;
    var layerWeights = (weights - mem.lm_head - mem.embeddings) / L;
    var layerBytes = layerWeights + perLayerFixed;
    var gl = Math.max(0, Math.min(L, Math.floor((budget - head - mem.vision) / layerBytes)));
    var onGpu = head + gl * layerBytes + mem.vision;
    var rest = resident - onGpu;
    if (M.host && rest <= ramUsable && gl > 0) {
      var weightsInRam = weights - head - gl * layerWeights;
      return result("layer_offload", false, true,
                    budgets.map(function (b) { return onGpu * b / budget + mem.cb; }), rest, weightsInRam / weights,
                    gl, null, budget, budget - onGpu, 0.0);
    }
    var short = Math.max(0.0, resident - budget - ramUsable);
    return result("does_not_fit", false, false, [], 0.0, 0.0, null, null, budget, budget - resident, short);
  }

  // ------------------------------------------------------------------ speed (engine/speed.py)

  function factors(d, runtime) {
    var key = d.hbm && d.backend !== "cpu" ? d.backend + "/hbm" : d.backend;
    var family = has(D.speed.families, runtime) ? D.speed.families[runtime] : "";
    if (family) key += "/" + family;
    var f = D.speed.keys[key];
    return { bw: f[0], layer: f[1], compute: f[2], token: f[3], linear: f[4], linear_pf: f[5], expert_pf: f[6],
             attn: f[7] };
  }

  /** The runtime's kernel family: "" for llama.cpp and its kind, "vllm", "mlx" (engine/speed.py). */
  function family(runtime) {
    return has(D.speed.families, runtime) ? D.speed.families[runtime] : "";
  }

  function layerSeconds(layers, model, f) {
    return layers * (model.lu * f.layer + model.ls * f.linear);
  }

  function decodeSpeed(M, p, read, model, mode, runtime, kv) {
    if (!p.runs) return null;
    var L = model.layers, total = read.total, gpuBytes, ramBytes, gpuLayers, ramLayers;
    if (p.placement === "cpu") {
      gpuBytes = 0.0; ramBytes = total; gpuLayers = 0; ramLayers = L;
    } else if (p.placement === "moe_expert_offload") {
      var nc = p.n_cpu_moe || 0;
      ramBytes = read.routed * nc / L; gpuBytes = total - ramBytes; gpuLayers = L; ramLayers = nc;
    } else if (p.placement === "layer_offload") {
      var g = p.gpu_layers || 0;
      var layered = total - read.lm_head - read.embeddings;
      ramBytes = layered * (L - g) / L + read.embeddings; gpuBytes = total - ramBytes;
      gpuLayers = g; ramLayers = L - g;
    } else {
      gpuBytes = total; ramBytes = 0.0; gpuLayers = L; ramLayers = 0;
    }
    var terms = {};
    if (M.acc.length && gpuBytes) {
      var kvGpu = read.kv * gpuLayers / L;
      var bytes = gpuBytes - kvGpu + (kv !== "f16" ? D.speed.kvf : 1.0) * kvGpu;
      var n = M.acc.length, first = factors(M.acc[0], runtime);
      if (mode === "tensor_parallel" && n > 1) {
        var slow = M.acc[0], slowF = first;
        M.acc.forEach(function (d) {
          var f = factors(d, runtime);
          if (1 / (d.bw * f.bw) > 1 / (slow.bw * slowF.bw)) { slow = d; slowF = f; }
        });
        terms.accelerator_read = bytes / n / (slow.bw * slowF.bw);
        terms.layer_overhead = layerSeconds(gpuLayers, model, slowF);
        var ar = has(D.speed.allreduce, M.link) ? D.speed.allreduce[M.link] : D.speed.allreduce.pcie;
        terms.allreduce = gpuLayers * (2 * ar);
        if (!family(runtime)) terms.row_split_sync = gpuLayers * (D.speed.split.decode_row || 0);
      } else {
        var shares = M.acc.map(function (d) { return d.mem; }), totalShare = sum(shares), reads = 0, layers = 0;
        M.acc.forEach(function (d, i) {
          var f = factors(d, runtime), s = shares[i] / totalShare;
          reads += bytes * s / (d.bw * f.bw);
          layers += layerSeconds(gpuLayers * s, model, f);
        });
        terms.accelerator_read = reads;
        terms.layer_overhead = layers;
        if (n > 1) {
          terms.gpu_hops = (n - 1) * D.speed.hop;
          if (model.moe && !family(runtime)) terms.moe_split_sync = gpuLayers * (D.speed.split.decode_moe || 0);
        }
      }
      terms.token_overhead = first.token;
    }
    if (ramBytes) {
      var cpu = factors({ backend: "cpu", hbm: false }, runtime);
      terms.ram_read = ramBytes / (M.host.bw * cpu.bw);
      if (p.placement === "moe_expert_offload") {
        terms.offload_round_trips = ramLayers * D.speed.sync;
      } else {
        terms.cpu_layer_overhead = layerSeconds(ramLayers, model, cpu);
        if (M.acc.length) terms.offload_round_trips = D.speed.sync;
        else terms.token_overhead = cpu.token;
      }
    }
    var seconds = 0;
    for (var k in terms) if (has(terms, k)) seconds += terms[k];
    return { tok_s: seconds > 0 ? 1 / seconds : null, terms: terms, gpu_bytes: gpuBytes, ram_bytes: ramBytes };
  }

  function prefillSpeed(M, p, model, weightsInRam, mode, runtime) {
    if (!p.runs) return null;
    var devices = M.acc.length ? M.acc : (M.host ? [M.host] : []);
    if (!devices.length || devices.some(function (d) { return d.flops === null || d.flops === undefined; })) return null;
    var ub = S.ubatch, w = model.pw, each = [];
    for (var i = 0; i < devices.length; i++) {
      var f = factors(devices[i], runtime);
      if (f.compute === null) return null;
      each.push((w[0] + f.attn * w[1] + f.linear_pf * w[2] + f.expert_pf * w[3] / ub) / (devices[i].flops * f.compute));
    }
    var compute;
    if (mode === "tensor_parallel" && devices.length > 1) {
      compute = 1 / sum(each.map(function (t) { return 1 / t; }));
    } else {
      var shares = M.acc.length ? M.acc.map(function (d) { return d.mem; }) : [1];
      var tot = sum(shares);
      compute = sum(each.map(function (t, j) { return t * shares[j] / tot; }));
    }
    var terms = { compute: compute };
    if (M.acc.length > 1 && !family(runtime)) {
      if (mode === "tensor_parallel") terms.row_split_sync = model.layers * (D.speed.split.prefill_row || 0) / ub;
      else if (model.moe) terms.moe_split_sync = model.layers * (D.speed.split.prefill_moe || 0) / ub;
    }
    if (weightsInRam && M.acc.length && M.host) {
      var kind = p.placement === "moe_expert_offload" ? "expert" : "layer";
      var share = has(D.speed.offload, kind) ? D.speed.offload[kind] : 1.0;
      terms.ram_weight_stream = weightsInRam / (M.host.bw * D.speed.cpu_bw * share) / ub;
    }
    var seconds = 0;
    for (var k in terms) if (has(terms, k)) seconds += terms[k];
    return { tok_s: 1 / seconds, terms: terms };
  }

  /** The class of setup whose held-out error is the band of a speed (engine/estimate.py band_class). */
  function bandClass(M, p, runtime) {
    if (has(D.speed.families, runtime) && D.speed.families[runtime] === "vllm") return "vLLM / SGLang";
    if (!M.acc.length || p.placement === "cpu") return "CPU only";
    if (p.placement === "moe_expert_offload" || p.placement === "layer_offload") return "GPU + system RAM";
    if (M.acc.length > 1) return "several GPUs";
    var d = M.acc[0];
    if (d.backend === "metal") return "Apple";
    if (d.backend === "cuda") return d.hbm ? "one NVIDIA datacenter GPU (HBM)" : "one NVIDIA GPU";
    return { AMD: "AMD", Intel: "Intel", NVIDIA: "one NVIDIA GPU" }[d.vendor] || "other";
  }

  /** [low, high, few measurements] around a speed, from its class's band. */
  function band(kind, value, M, p, runtime) {
    var b = D.speed.bands[kind + "|" + bandClass(M, p, runtime)];
    if (!b || !value) return null;
    return [value / b[0], value * b[0], !b[1]];
  }

  // ------------------------------------------------------------------ one estimate (engine/estimate.py)

  function modeFor(st, M) {
    var rt = RUNTIMES[st.rt];
    return rt && rt.modes.indexOf("tensor_parallel") >= 0 && M.acc.length > 1 ? "tensor_parallel" : "layer_split";
  }

  function memoryFor(model, mq, st, M, context) {
    var cbTerms = model.cb;
    var cb = Math.max(cbTerms[0], cbTerms[1] * context) + cbTerms[2];
    var nDevices = M.acc.length ? M.acc.length : 1;
    var discrete = M.kind === "gpu";
    var parts = {
      weights: mq[0],
      kv_cache: model.kv[KV_POS[st.kv]] * context,
      recurrent_state: model.rs,
      compute_buffer: cb * nDevices,
      runtime_overhead: discrete ? S.overhead * nDevices : 0.0,
      vision: 0.0
    };
    var mem = { weights: mq[0], lm_head: mq[1], embeddings: mq[2], routed: mq[3], kv: parts.kv_cache,
                rs: model.rs, cb: cb, vision: 0.0, layers: model.layers, moe: model.moe };
    return { parts: parts, mem: mem,
             total: parts.weights + parts.kv_cache + parts.recurrent_state + parts.compute_buffer +
                    parts.runtime_overhead + parts.vision };
  }

  function estimate(st) {
    var model = MODELS[st.m], mq = D.mq[st.m][QUANT_POS[st.q]];
    var M = machineFor(st), mode = modeFor(st, M);
    var m = memoryFor(model, mq, st, M, st.ctx);
    var p = place(M, m.mem);
    var kvRead = model.kv[KV_POS[st.kv]] * st.ctx;
    var read = { total: mq[4] + kvRead, kv: kvRead, routed: mq[5], lm_head: mq[6], embeddings: mq[7] };
    var decode = decodeSpeed(M, p, read, model, mode, st.rt, st.kv);
    var prefill = prefillSpeed(M, p, model, p.ram, mode, st.rt);
    if (decode) decode.band = band("decode", decode.tok_s, M, p, st.rt);
    if (prefill) prefill.band = band("prefill", prefill.tok_s, M, p, st.rt);
    return { model: model, machine: M, mode: mode, memory: m.parts, total: m.total, cb: m.mem.cb, placement: p,
             decode: decode, prefill: prefill, bytes_read: read };
  }

  /** The largest of [lo..hi] for which ok holds (bisection as macros/render/derived.largest). */
  function largest(lo0, hi0, ok) {
    var lo = 0, hi = hi0 - lo0;
    if (hi < 0 || !ok(lo0)) return null;
    while (lo < hi) {
      var mid = Math.floor((lo + hi + 1) / 2);
      if (ok(lo0 + mid)) lo = mid; else hi = mid - 1;
    }
    return lo0 + lo;
  }

  function largestContext(st, need) {
    var model = MODELS[st.m], mq = D.mq[st.m][QUANT_POS[st.q]], M = machineFor(st);
    var lo = Math.min(S.min_context, model.limit);
    return largest(lo, model.limit, function (c) {
      return place(M, memoryFor(model, mq, st, M, c).mem)[need];
    });
  }

  // ------------------------------------------------------------------ state: defaults, URL, validation

  var DEF = D.defaults;
  var MAX_COUNT = 64, MAX_RAM_GB = 100000, MAX_MEM_GB = 100000, MAX_BW = 1e6, MAX_TF = 1e6;

  function defaultState() {
    var model = MODELS[DEF.model];
    return { m: DEF.model, q: DEF.quant, ctx: Math.min(DEF.context, model.limit), kv: "f16", mode: "device",
             hw: DEF.hardware, n: 1, ram: DEF.ram_gb, rig: D.rigs.length ? D.rigs[0].id : "",
             kind: "gpu", mem: 24, bw: 1000, tf: null, rt: DEF.runtime };
  }

  function num(text) {
    if (text === null || text === undefined || String(text).trim() === "") return NaN;
    var t = String(text).trim().replace(/_/g, "");
    var k = /^([0-9.eE+-]+)\s*[kK]$/.exec(t);
    if (k) return Number(k[1]) * 1024;
    return Number(t);
  }

  /** Bring a raw state (from the URL or the form) to valid values; say what was changed. */
  function normalize(raw, msgs) {
    var d = defaultState(), st = {};
    function bad(text) { msgs.push(text); }
    st.m = raw.m;
    if (!has(MODELS, st.m)) {
      if (raw.m !== undefined) bad("Unknown model “" + raw.m + "”; showing " + MODELS[d.m].name + ".");
      st.m = d.m;
    }
    var model = MODELS[st.m];
    st.q = raw.q;
    if (!has(QUANTS, st.q)) {
      if (raw.q !== undefined) bad("Unknown quantization “" + raw.q + "”; using " + QUANTS[d.q].name + ".");
      st.q = d.q;
    }
    var lo = Math.min(S.min_context, model.limit);
    var c = raw.ctx === undefined ? d.ctx : num(raw.ctx);
    if (!isFinite(c)) {
      bad("Context “" + raw.ctx + "” is not a number; using " + fmtInt(Math.min(d.ctx, model.limit)) + " tokens.");
      c = Math.min(d.ctx, model.limit);
    } else if (c > model.limit) {
      bad("Context " + fmtInt(c) + " is above " + model.name + "’s limit of " + fmtInt(model.limit) +
          " tokens; using " + fmtInt(model.limit) + ".");
      c = model.limit;
    } else if (c < lo) {
      bad("Context " + fmtInt(c) + " is below " + fmtInt(lo) + " tokens; using " + fmtInt(lo) + ".");
      c = lo;
    }
    st.ctx = Math.round(c);
    st.kv = raw.kv;
    if (!has(KV_POS, st.kv)) {
      if (raw.kv !== undefined) bad("Unknown KV cache type “" + raw.kv + "”; using f16.");
      st.kv = "f16";
    }
    st.rt = raw.rt;
    if (!has(RUNTIMES, st.rt)) {
      if (raw.rt !== undefined) bad("Unknown runtime “" + raw.rt + "”; using " + RUNTIMES[d.rt].name + ".");
      st.rt = d.rt;
    }
    st.mode = raw.mode === "rig" || raw.mode === "custom" ? raw.mode : "device";
    if (st.mode === "rig" && !has(RIGS, raw.rig)) {
      bad(raw.rig ? "Unknown rig “" + raw.rig + "”; showing " + HW[d.hw].name + "." : "No rig given.");
      st.mode = "device";
    }
    st.rig = st.mode === "rig" ? raw.rig : d.rig;
    st.hw = raw.hw;
    if (!has(HW, st.hw)) {
      if (raw.hw !== undefined && st.mode === "device") bad("Unknown hardware “" + raw.hw + "”; showing " + HW[d.hw].name + ".");
      st.hw = d.hw;
    }
    function positive(key, label, dflt, max, integer, allowZero) {
      var v = raw[key] === undefined ? dflt : num(raw[key]);
      if (v === null) return null;
      if (!isFinite(v) || v < 0 || (!allowZero && v === 0) || (integer && v < 1)) {
        bad(label + " “" + raw[key] + "” must be " + (allowZero ? "0 or more" : integer ? "1 or more" : "a positive number") +
            (dflt === null ? "; leaving it out." : "; using " + dflt + "."));
        return dflt;
      }
      if (v > max) { bad(label + " " + v + " is above " + max + "; using " + max + "."); v = max; }
      return integer ? Math.floor(v) : v;
    }
    st.n = positive("n", "Device count", 1, MAX_COUNT, true, false);
    st.ram = positive("ram", "System RAM (GB)", d.ram, MAX_RAM_GB, false, true);
    st.kind = raw.kind === "unified" || raw.kind === "cpu" ? raw.kind : "gpu";
    if (raw.kind !== undefined && raw.kind !== st.kind) bad("Unknown kind “" + raw.kind + "”; using gpu.");
    st.mem = positive("mem", "Memory (GB)", d.mem, MAX_MEM_GB, false, false);
    st.bw = positive("bw", "Bandwidth (GB/s)", d.bw, MAX_BW, false, false);
    st.tf = raw.tf === undefined || raw.tf === null || String(raw.tf).trim() === "" ? null
      : positive("tf", "TFLOPS", null, MAX_TF, false, false);
    if (st.mode === "device") {
      var h = HW[st.hw];
      if (h.kind !== "gpu" && st.n !== 1) {
        bad(h.name + " is " + (h.kind === "cpu" ? "a CPU platform" : "a unified-memory machine") +
            "; the count is 1.");
        st.n = 1;
      }
    }
    if (st.mode === "custom" && st.kind !== "gpu" && st.n !== 1) {
      bad("A custom " + (st.kind === "cpu" ? "CPU" : "unified-memory") + " machine is one device; the count is 1.");
      st.n = 1;
    }
    return st;
  }

  function stateToParams(st) {
    var p = [["m", st.m], ["q", st.q], ["ctx", st.ctx], ["kv", st.kv]];
    if (st.mode === "rig") p.push(["rig", st.rig]);
    else if (st.mode === "custom") {
      p.push(["kind", st.kind], ["mem", st.mem], ["bw", st.bw]);
      if (st.tf) p.push(["tf", st.tf]);
      if (st.kind !== "cpu") p.push(["n", st.n]);
      if (st.kind === "gpu") p.push(["ram", st.ram]);
    } else {
      p.push(["hw", st.hw], ["n", st.n], ["ram", st.ram]);
    }
    p.push(["rt", st.rt]);
    return p.map(function (kv) { return encodeURIComponent(kv[0]) + "=" + encodeURIComponent(String(kv[1])); }).join("&");
  }

  function paramsToRaw(text) {
    var raw = {};
    text.replace(/^[?#]/, "").split("&").forEach(function (pair) {
      if (!pair) return;
      var i = pair.indexOf("="), k = i < 0 ? pair : pair.slice(0, i), v = i < 0 ? "" : pair.slice(i + 1);
      try { raw[decodeURIComponent(k)] = decodeURIComponent(v.replace(/\+/g, " ")); } catch (e) { /* ignore */ }
    });
    if (raw.rig !== undefined) raw.mode = "rig";
    else if (raw.kind !== undefined || raw.mem !== undefined || raw.bw !== undefined) raw.mode = "custom";
    return raw;
  }

  function rawFromUrl() {
    var raw = paramsToRaw(window.location.search || "");
    var fromHash = paramsToRaw(window.location.hash || "");
    for (var k in fromHash) if (has(fromHash, k)) raw[k] = fromHash[k];
    if (fromHash.mode) raw.mode = fromHash.mode;
    return raw;
  }

  // ------------------------------------------------------------------ formatting (as macros/render/fmt.py)

  function fmtFixed(x, digits) {
    return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function fmtInt(x) { return isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a"; }
  function gb(bytes) {
    if (bytes === null || bytes === undefined || !isFinite(bytes)) return "n/a";
    var v = bytes / 1e9;
    return fmtFixed(v, Math.abs(v) >= 10 ? 1 : 2) + " GB";
  }
  /** An installed capacity as sold: a "64 GB" of RAM the reader typed shows back as 64 GB (fmt.capacity). */
  function cap(bytes) {
    if (bytes === null || bytes === undefined || !isFinite(bytes)) return "n/a";
    var v = bytes / S.ram_unit;
    if (Math.abs(v - Math.round(v)) < 0.005) return fmtInt(v) + " GB";
    return String(+v.toFixed(2)) + " GB";
  }
  /** Bytes used (GB of 10^9) of an installed capacity (as sold), with the share: "24.2 GB (88%) of 24 GB". */
  function used(bytes, capacity) {
    return gb(bytes) + (capacity > 0 ? " (" + pct(bytes / capacity) + ")" : "") + " of " + cap(capacity);
  }
  function tokS(x) {
    if (x === null || x === undefined || !isFinite(x)) return "n/a";
    if (x < 1) return x.toFixed(2) + " tok/s";
    if (x < 100) return x.toFixed(1) + " tok/s";
    return fmtFixed(x, 0) + " tok/s";
  }
  /** "38.5 tok/s (likely 26.6–55.8)": a speed with its class's band (site: Site.speed_text). */
  function withBand(speed) {
    var b = speed.band;
    if (!b) return tokS(speed.tok_s);
    return tokS(speed.tok_s) + " (likely " + tokS(b[0]).replace(" tok/s", "") + "–" + tokS(b[1]).replace(" tok/s", "") +
      (b[2] ? ", few measurements" : "") + ")";
  }
  function pct(f) { return f === null || !isFinite(f) ? "n/a" : (100 * f).toFixed(0) + "%"; }
  var PLACEMENT_LABELS = {
    gpu: "on the GPU", layer_split: "split across GPUs", unified: "in unified memory",
    unified_raised_cap: "unified, limit raised", moe_expert_offload: "experts in RAM",
    layer_offload: "layers in RAM", cpu: "CPU and RAM", does_not_fit: "does not fit"
  };

  // ------------------------------------------------------------------ DOM helpers (text only: catalog strings are never parsed as HTML)

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function row(tbody, label, value, key, raw) {
    var tr = el("tr");
    tr.appendChild(el("th", label));
    var td = el("td", value);
    if (key) { td.setAttribute("data-key", key); td.setAttribute("data-value", raw === null || raw === undefined ? "" : String(raw)); }
    tr.appendChild(td);
    tbody.appendChild(tr);
    return tr;
  }

  // ------------------------------------------------------------------ the form

  var F = {
    model: $("calc-model"), quant: $("calc-quant"), ctx: $("calc-ctx"), range: $("calc-ctx-range"),
    kv: $("calc-kv"), hwmode: $("calc-hwmode"), hw: $("calc-hw"), n: $("calc-count"), rig: $("calc-rig"),
    kind: $("calc-kind"), mem: $("calc-mem"), bw: $("calc-bw"), tf: $("calc-tflops"), ram: $("calc-ram"),
    rt: $("calc-runtime")
  };

  function sliderToContext(v, model) {
    var lo = Math.min(S.min_context, model.limit), hi = model.limit;
    if (hi <= lo || v >= 1000) return hi;
    if (v <= 0) return lo;
    var c = lo * Math.pow(hi / lo, v / 1000);
    c = c >= 4096 ? Math.round(c / 1024) * 1024 : Math.round(c / 256) * 256;
    return Math.max(lo, Math.min(hi, c));
  }
  function contextToSlider(c, model) {
    var lo = Math.min(S.min_context, model.limit), hi = model.limit;
    if (hi <= lo) return 1000;
    return Math.round(1000 * Math.log(c / lo) / Math.log(hi / lo));
  }

  function readForm() {
    return { m: F.model.value, q: F.quant.value, ctx: F.ctx.value, kv: F.kv.value, mode: F.hwmode.value,
             hw: F.hw.value, n: F.n.value, rig: F.rig ? F.rig.value : undefined, kind: F.kind.value,
             mem: F.mem.value, bw: F.bw.value, tf: F.tf.value, ram: F.ram.value, rt: F.rt.value };
  }

  function writeForm(st) {
    F.model.value = st.m; F.quant.value = st.q; F.kv.value = st.kv; F.hwmode.value = st.mode;
    F.hw.value = st.hw; F.n.value = st.n; if (F.rig && st.rig) F.rig.value = st.rig;
    F.kind.value = st.kind; F.mem.value = st.mem; F.bw.value = st.bw; F.tf.value = st.tf === null ? "" : st.tf;
    F.ram.value = st.ram; F.rt.value = st.rt;
    var model = MODELS[st.m];
    F.ctx.value = st.ctx; F.ctx.max = model.limit; F.ctx.min = Math.min(S.min_context, model.limit);
    F.range.value = contextToSlider(st.ctx, model);
    $("calc-ctx-hint").textContent = fmtInt(F.ctx.min) + " to " + fmtInt(model.limit) + " tokens" +
      (model.limit > model.native ? " (native " + fmtInt(model.native) + "; beyond that with YaRN)" : "");
    root.setAttribute("data-hwmode", st.mode);
    root.setAttribute("data-kind", st.kind);
  }

  // ------------------------------------------------------------------ rendering

  var state = null;

  function showMessages(msgs) {
    var box = $("calc-msgs");
    clear(box);
    msgs.forEach(function (m) { box.appendChild(el("p", m, "calc-msg calc-msg--warn")); });
  }

  function memoryBar(e) {
    var bar = $("calc-bar"), legend = $("calc-legend");
    clear(bar); clear(legend);
    var M = e.machine;
    var capacity = M.acc.length ? sum(M.acc.map(function (d) { return d.mem; })) : M.ram;
    var segs = [
      ["weights", "Weights", e.memory.weights],
      ["kv", "KV cache", e.memory.kv_cache],
      ["state", "Recurrent state", e.memory.recurrent_state],
      ["overhead", "Overhead (buffers, runtime)", e.memory.compute_buffer + e.memory.runtime_overhead]
    ];
    var scale = Math.max(e.total, capacity || 0) || 1;
    segs.forEach(function (s) {
      if (!(s[2] > 0)) return;
      var seg = el("span", null, "calc-seg calc-seg--" + s[0]);
      seg.style.width = (100 * s[2] / scale).toFixed(3) + "%";
      seg.title = s[1] + ": " + gb(s[2]);
      bar.appendChild(seg);
      var item = el("span", null, "calc-legend-item");
      item.appendChild(el("span", null, "calc-swatch calc-seg--" + s[0]));
      item.appendChild(document.createTextNode(s[1] + " " + gb(s[2])));
      legend.appendChild(item);
    });
    if (capacity > 0) {
      var mark = el("span", null, "calc-cap");
      mark.style.left = Math.min(100, 100 * capacity / scale).toFixed(3) + "%";
      var label = (M.acc.length ? "accelerator memory " : "system RAM ") + cap(capacity);
      mark.title = label;
      bar.appendChild(mark);
      var item2 = el("span", null, "calc-legend-item");
      item2.appendChild(el("span", null, "calc-swatch calc-swatch--cap"));
      item2.appendChild(document.createTextNode("installed " + label));
      legend.appendChild(item2);
    }
    bar.setAttribute("aria-label", "Memory: " + segs.map(function (s) { return s[1] + " " + gb(s[2]); }).join(", ") +
      "; total " + gb(e.total) + (capacity ? "; installed " + cap(capacity) : ""));
  }

  function verdict(e, st) {
    var p = e.placement, M = e.machine, L = e.model.layers, head, detail, cls;
    var n = M.acc.length;
    switch (p.placement) {
      case "gpu": head = "Fits in GPU memory"; cls = "ok"; break;
      case "layer_split": head = "Fits, split across " + n + " GPUs"; cls = "ok"; break;
      case "unified": head = "Fits in unified memory"; cls = "ok"; break;
      case "unified_raised_cap": head = "Fits only after raising the GPU memory limit"; cls = "partial"; break;
      case "moe_expert_offload": head = "Runs with the experts of " + p.n_cpu_moe + " of " + L + " layers in system RAM"; cls = "partial"; break;
      case "layer_offload": head = "Runs with " + p.gpu_layers + " of " + L + " layers on the GPU, the rest in system RAM"; cls = "partial"; break;
      case "cpu": head = "Runs on the CPU from system RAM"; cls = "partial"; break;
      default: head = "Does not fit"; cls = "no";
    }
    if (p.placement === "does_not_fit") {
      detail = "Short by " + gb(p.shortfall) + ". " +
        (M.kind === "gpu" && !M.host ? "Add system RAM to offload layers or experts, or try " : "Try ") +
        "a smaller quantization, a shorter context or a q8_0 KV cache.";
    } else if (p.fits || p.placement === "unified_raised_cap") {
      detail = "Headroom " + gb(p.headroom) + " of the " + gb(p.budget) + " the model may use.";
      if (p.placement === "unified_raised_cap") {
        detail = (M.acc[0].backend === "metal" ? "macOS lets the GPU wire only part of unified memory; raise it with sudo sysctl iogpu.wired_limit_mb. "
          : "Raise the GPU memory share (GTT/UMA setting). ") + "Over the default share by " + gb(-p.headroom) + ".";
      }
    } else if (p.placement === "cpu") {
      detail = "Spare RAM " + gb(p.headroom) + " after the operating system's share.";
    } else {
      detail = pct(p.offloaded) + " of the weights sit in system RAM and are read from there every token.";
    }
    var box = $("calc-verdict");
    box.className = "calc-verdict calc-verdict--" + cls;
    $("calc-verdict-head").textContent = head;
    $("calc-verdict-detail").textContent = detail;
    var adv = $("calc-advice");
    if (adv) adv.textContent = adviceText(st);
  }

  /** The site's recommendation for chat of this model on this catalog machine, as every page gives it
   * (exported by the engine's recommendation policy), or "" when the machine is custom or not featured. */
  function adviceText(st) {
    var A = D.advice, id = null, label = "";
    if (!A || !A.recommend || !A.recommend.chat) return "";
    if (st.mode === "rig") { id = st.rig; label = RIGS[st.rig].name; }
    else if (st.mode !== "custom" && st.n === 1) {
      id = st.hw; label = HW[st.hw].name + (HW[st.hw].kind === "gpu" && st.ram ? " alone" : "");
    }
    var per = id !== null && A.recommend.chat[st.m];
    var r = per && per[id];
    if (!r) return "";
    if (r[2] === "none") return "The site's recommendation for chat on " + label + ": none usable.";
    return (r[2] === "recommended" ? "Recommended for chat on " : "Best compromise for chat on ") + label + ": " +
      r[0] + ", " + fmtInt(r[1]) + " tokens of context, " + tokS(r[3]) + " (" + tokS(r[4]) + " at the low end).";
  }

  var MODEL_FLAG = { "llama.cpp": "-m", "sglang": "--model-path", "mlx-lm": "--model" };

  function flagLine(flags, value) {
    return flags.map(function (f) { return f + " " + value; }).join(" ");
  }

  function commandFor(rt, e, st) {
    var model = MODELS[st.m], q = QUANTS[st.q], p = e.placement, L = model.layers, parts = [rt.command];
    var stem = model.name.replace(/\s+/g, "-") + "-" + q.id;
    var isGguf = q.format === "gguf";
    // The runtime records name no model argument; these are the runtimes' documented forms.
    var modelFlag = MODEL_FLAG[rt.id] || "";
    var ref;
    if (modelFlag === "-m") ref = isGguf ? stem + ".gguf" : "<a GGUF file>";
    else if (!isGguf && model.hf) ref = model.hf;
    else ref = isGguf ? stem : model.name;
    parts.push((modelFlag ? modelFlag + " " : "") + ref);
    if (rt.flags.context.length) parts.push(flagLine(rt.flags.context, st.ctx));
    if (p.runs && rt.flags.gpu_layers.length && rt.flags.gpu_layers[0] === "-ngl") {
      parts.push(flagLine(rt.flags.gpu_layers, p.placement === "cpu" || !e.machine.acc.length ? 0
        : (p.gpu_layers >= L ? 999 : p.gpu_layers)));
    }
    if (p.runs && rt.flags.gpu_layers[0] === "--gpu" && e.machine.acc.length) {  // LM Studio: a share, off or max
      parts.push("--gpu " + (p.placement === "cpu" ? "off" : p.gpu_layers >= L ? "max" : (p.gpu_layers / L).toFixed(2)));
    }
    if (p.n_cpu_moe && rt.flags.cpu_moe.length) parts.push(flagLine(rt.flags.cpu_moe, p.n_cpu_moe));
    if (st.kv !== "f16" && rt.flags.kv_type.length && rt.kv.indexOf(st.kv) >= 0) parts.push(flagLine(rt.flags.kv_type, st.kv));
    if (e.mode === "tensor_parallel" && rt.flags.tensor_parallel.length) parts.push(flagLine(rt.flags.tensor_parallel, e.machine.acc.length));
    return parts.join(" ");
  }

  function renderCommand(e, st) {
    var rt = RUNTIMES[st.rt], lines = [], notes = [];
    var q = QUANTS[st.q];
    lines.push(commandFor(rt, e, st));
    var lc = RUNTIMES["llama.cpp"];
    if (lc && rt.id !== lc.id && q.format === "gguf") lines.push("# the same with llama.cpp:", commandFor(lc, e, st));
    if (q.runtimes.indexOf(rt.id) < 0) notes.push(rt.name + " is not listed for " + q.name + " files (" + q.format + ").");
    else if (q.format !== "gguf" && MODELS[st.m].hf) notes.push("Use the " + q.name + " upload of " + MODELS[st.m].hf + ".");
    else if (q.format === "gguf" && !MODEL_FLAG[rt.id]) notes.push("The model name is the one you gave the " + q.name + " GGUF when you added it to " + rt.name + ".");
    if (rt.kv.indexOf(st.kv) < 0) notes.push(rt.name + " does not offer a " + st.kv + " KV cache.");
    for (var k in rt.settings) if (has(rt.settings, k)) {
      var v = k === "context" ? fmtInt(st.ctx) : k === "gpu_layers" ? e.placement.gpu_layers : k === "kv_type" ? st.kv : "";
      notes.push(rt.name + ": set " + rt.settings[k] + (v !== "" && v !== null ? " to " + v : "") + ".");
    }
    if (!e.placement.runs) notes.push("It does not fit as chosen, so this command would fail to load.");
    $("calc-cmd").textContent = lines.join("\n");
    $("calc-cmd-note").textContent = notes.join(" ");
  }

  function renderLinks(st) {
    var ul = $("calc-links");
    clear(ul);
    function link(href, text) {
      var li = el("li"), a = el("a", text);
      a.href = href;
      li.appendChild(a);
      ul.appendChild(li);
    }
    var model = MODELS[st.m];
    link(base + "models/" + encodeURIComponent(model.id) + "/", model.name + ": the model page");
    var ids = [];
    if (st.mode === "device") ids = [st.hw];
    else if (st.mode === "rig") {
      link(base + "hardware/" + encodeURIComponent(st.rig) + "/", RIGS[st.rig].name + ": the build's page");
      ids = RIGS[st.rig].parts;
    }
    ids.forEach(function (id) {
      if (has(HW, id)) link(base + "hardware/" + encodeURIComponent(id) + "/", HW[id].name + ": the hardware page");
    });
  }

  function render(st, msgs) {
    var e = estimate(st), p = e.placement, M = e.machine;
    var fitCtx = largestContext(st, "fits"), runCtx = largestContext(st, "runs");
    var out = $("calc-out");
    var attrs = {
      "total": e.total, "fits": p.fits, "runs": p.runs, "placement": p.placement,
      "ngl": p.gpu_layers, "ncm": p.n_cpu_moe, "gpu-bytes": sum(p.device), "ram-bytes": p.ram,
      "offloaded": p.offloaded, "decode": e.decode ? e.decode.tok_s : null,
      "prefill": e.prefill ? e.prefill.tok_s : null, "fit-ctx": fitCtx, "run-ctx": runCtx, "mode": e.mode,
      "state": stateToParams(st)
    };
    for (var k in attrs) if (has(attrs, k)) out.setAttribute("data-" + k, attrs[k] === null ? "" : String(attrs[k]));

    verdict(e, st);
    memoryBar(e);
    var mr = $("calc-mem-rows");
    clear(mr);
    row(mr, "Weights", gb(e.memory.weights), "weights", e.memory.weights);
    row(mr, "KV cache (" + st.kv + ", " + fmtInt(st.ctx) + " tokens)", gb(e.memory.kv_cache), "kv", e.memory.kv_cache);
    row(mr, "Recurrent state", gb(e.memory.recurrent_state), "state", e.memory.recurrent_state);
    row(mr, "Overhead: compute buffers" + (e.memory.runtime_overhead ? " and GPU runtime" : ""),
        gb(e.memory.compute_buffer + e.memory.runtime_overhead), "overhead", e.memory.compute_buffer + e.memory.runtime_overhead);
    row(mr, "Total", gb(e.total), "total", e.total).className = "calc-total";

    var pr = $("calc-place-rows");
    clear(pr);
    row(pr, "Placement", PLACEMENT_LABELS[p.placement] || p.placement, "placement", p.placement);
    p.device.forEach(function (b, i) {
      var d = M.acc[i];
      row(pr, (d.name || "device " + (i + 1)) + (M.acc.length > 1 ? " #" + (i + 1) : ""),
          used(b, d.mem), "device", b);
    });
    if (M.host) row(pr, "System RAM", used(p.ram, M.ram), "ram", p.ram);
    if (p.runs) row(pr, "Weights offloaded to RAM", pct(p.offloaded), "offloaded", p.offloaded);
    if (M.acc.length) {
      row(pr, "GPU layers (-ngl)", p.gpu_layers === null ? "n/a" : p.gpu_layers + " of " + e.model.layers, "ngl", p.gpu_layers);
      if (e.model.moe) row(pr, "Layers with experts in RAM (--n-cpu-moe)", p.n_cpu_moe === null ? "none" : p.n_cpu_moe, "ncm", p.n_cpu_moe);
    }
    row(pr, "Largest context in accelerator memory", fitCtx === null ? (M.acc.length ? "none: not even " + fmtInt(Math.min(S.min_context, e.model.limit)) + " tokens fit" : "n/a (no accelerator)") : fmtInt(fitCtx) + " tokens", "fit-ctx", fitCtx);
    if (!p.fits || fitCtx === null) row(pr, "Largest context that runs at all", runCtx === null ? "none: not even " + fmtInt(Math.min(S.min_context, e.model.limit)) + " tokens" : fmtInt(runCtx) + " tokens", "run-ctx", runCtx);

    var sr = $("calc-speed-rows");
    clear(sr);
    row(sr, "Decode (generation), cache full", e.decode ? "≈ " + withBand(e.decode) : "n/a: " + (p.runs ? "no bandwidth figure" : "it does not fit"), "decode", e.decode ? e.decode.tok_s : null);
    row(sr, "Prefill (prompt processing)", e.prefill ? "≈ " + withBand(e.prefill) : "n/a: " + (p.runs ? "no FP16 compute figure for this device" : "it does not fit"), "prefill", e.prefill ? e.prefill.tok_s : null);
    var note = "Estimates: decode from bytes read per token over bandwidth plus fixed costs per layer and per token, prefill from FLOPs over compute, with factors fitted to published measurements. The range beside each speed is where 90% of held-out measurements of the same kind of setup lay (the methodology page gives the table).";
    if (e.mode === "tensor_parallel") note += " Tensor parallel across " + M.acc.length + " devices (the runtime's split).";
    $("calc-speed-note").textContent = note;

    renderCommand(e, st);
    renderLinks(st);
    showMessages(msgs);

    var qs = stateToParams(st);
    var share = $("calc-share");
    share.href = "#" + qs;
    lastHash = "#" + qs;
    // The address bar follows after a pause: a dragged slider would otherwise flood the history
    // API, which browsers throttle (and then the address would lag behind the page).
    // A link followed meanwhile (the hash changed under us) wins: its hashchange renders it next.
    var seen = window.location.hash;
    clearTimeout(urlTimer);
    urlTimer = setTimeout(function () {
      if (window.location.hash === seen && lastHash !== seen) {
        try { window.history.replaceState(null, "", lastHash); } catch (err) { /* some file:// setups */ }
      }
    }, 150);
  }

  var lastHash = null, urlTimer = null;

  function update(raw, extraMsgs) {
    var msgs = (extraMsgs || []).slice();
    var st;
    try {
      st = normalize(raw, msgs);
      writeForm(st);
      render(st, msgs);
    } catch (err) {
      msgs.push("Something went wrong with these inputs (" + err.message + "); showing the defaults.");
      st = defaultState();
      writeForm(st);
      render(st, msgs);
    }
    state = st;
  }

  function onInput(ev) {
    var raw = readForm();
    if (ev && ev.target === F.range) raw.ctx = sliderToContext(Number(F.range.value), MODELS[F.model.value] || MODELS[DEF.model]);
    if (ev && ev.target === F.model && has(MODELS, raw.m)) {
      var lim = MODELS[raw.m].limit, c = num(raw.ctx);
      if (isFinite(c) && c > lim) raw.ctx = lim;  // changing the model keeps the context when it can
    }
    update(raw);
  }

  Object.keys(F).forEach(function (k) {
    var input = F[k];
    if (!input) return;
    var live = input.tagName === "SELECT" || input === F.range;
    input.addEventListener(live ? "input" : "change", onInput);
    if (!live) input.addEventListener("keydown", function (ev) { if (ev.key === "Enter") onInput(ev); });
  });
  window.addEventListener("hashchange", function () {
    if (window.location.hash !== lastHash) update(rawFromUrl());
  });
  var copy = $("calc-copy");
  if (copy) copy.addEventListener("click", function () {
    var url = window.location.href.split("#")[0] + $("calc-share").getAttribute("href");
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(function () { copy.textContent = "Copied"; }, function () { copy.textContent = "Copy failed"; });
    }
  });

  update(rawFromUrl());
  root.setAttribute("data-ready", "1");
  window.GuideCalculator = { estimate: estimate, normalize: normalize, state: function () { return state; },
                             largestContext: largestContext };
})();
