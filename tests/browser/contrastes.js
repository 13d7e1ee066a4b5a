// Textes visibles dont le contraste avec leur fond est sous 4,5:1 (WCAG 2.1, critère 1.4.3).
() => {
  function rgb(s) { const m = s.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(',').map(x => parseFloat(x)); return p.length === 4 ? p : [...p, 1]; }
  function lum(c) { const a = c.slice(0,3).map(v => { v /= 255; return v <= 0.03928 ? v/12.92 : Math.pow((v+0.055)/1.055, 2.4); }); return 0.2126*a[0]+0.7152*a[1]+0.0722*a[2]; }
  function bg(el) { while (el) { const c = rgb(getComputedStyle(el).backgroundColor); if (c && c[3] > 0.5) return c; el = el.parentElement; } return [255,255,255,1]; }
  const out = [];
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let n; const seen = new Set();
  while ((n = w.nextNode())) {
    const t = n.nodeValue.trim(); if (!t) continue;
    const el = n.parentElement; if (seen.has(el)) continue; seen.add(el);
    const r = el.getBoundingClientRect(); if (r.width === 0 || r.height === 0) continue;
    const st = getComputedStyle(el); if (st.visibility === 'hidden' || st.display === 'none') continue;
    if (el.closest('.leaflet-pane') || el.closest('svg') || el.closest('[data-testid="stSlider"]')) continue;
    const fg = rgb(st.color); const b = bg(el);
    const f = fg[3] < 1 ? fg.slice(0,3).map((v,i) => v*fg[3] + b[i]*(1-fg[3])) : fg;
    const L1 = lum(f), L2 = lum(b); const ratio = (Math.max(L1,L2)+0.05)/(Math.min(L1,L2)+0.05);
    if (ratio < 4.5) out.push([t.slice(0,50), st.color, ratio.toFixed(2), el.tagName, el.closest('[data-testid]') ? el.closest('[data-testid]').getAttribute('data-testid') : '']);
  }
  return out;
}
