/**
 * The dashboard's HTML: structure only; `script.ts` fills it.
 *
 * @module
 */

/** The page at `/`. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>wormhole</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
<h1>wormhole</h1>
<span id="status" class="status" data-state="starting">starting…</span>
</header>
<form id="login" class="login" hidden>
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Use token</button>
<p id="login-message" class="message"></p>
</form>
<main id="main" hidden>
<p id="error" class="message" hidden></p>
<section>
<h2>Waiting for approval <span id="requests-count" class="count">0</span></h2>
<div class="scroll"><table id="requests"></table></div>
</section>
<section>
<h2>Peers</h2>
<div class="scroll"><table id="peers"></table></div>
</section>
<section>
<h2>Apps</h2>
<div class="scroll"><table id="apps"></table></div>
</section>
<section id="offers-section" hidden>
<h2>Offered to clients</h2>
<div class="scroll"><table id="offers"></table></div>
</section>
<section>
<h2>Denied keys</h2>
<div class="scroll"><table id="denied"></table></div>
</section>
<section>
<h2>Recent events</h2>
<ol id="events" class="events"></ol>
</section>
<p class="footer"><button id="forget" type="button" class="link">Forget token</button></p>
</main>
</body>
</html>
`;
