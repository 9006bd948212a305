import type { PasswordPolicy } from './passwords.js';

/**
 * The plain pages of the local managed login: a sign-in form, the "choose a new password" form of
 * a user in FORCE_CHANGE_PASSWORD, and an error page. No script at all, a same-origin stylesheet,
 * labelled fields, a language, headings, and errors announced with role=alert.
 */

/**
 * Every page's Content-Security-Policy: nothing but its own stylesheet and forms posting to itself.
 * A form post that ends in a redirect to the app (the code, after the password) is checked
 * against `form-action` too, so the callback URLs' origins are listed there
 * (https://www.w3.org/TR/CSP3/#directive-form-action: "including redirects").
 */
export const pageCsp = (redirectOrigins: readonly string[] = []): string =>
  `default-src 'none'; style-src 'self'; form-action ${["'self'", ...redirectOrigins].join(' ')}; frame-ancestors 'none'`;

export const STYLESHEET = `body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#16191f}
main{max-width:24rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0003}
h1{font-size:1.5rem;margin-top:0}label{display:block;margin:1rem 0 .25rem;font-weight:600}
input{box-sizing:border-box;width:100%;padding:.5rem;font-size:1rem;border:1px solid #5f6b7a;border-radius:4px}
button{margin-top:1.5rem;width:100%;padding:.6rem;font-size:1rem;color:#fff;background:#0b5ed7;border:0;border-radius:4px;cursor:pointer}
button:focus,input:focus{outline:3px solid #ff9900;outline-offset:1px}
.error{color:#a4000f;background:#fdecee;padding:.5rem;border-radius:4px}ul{padding-left:1.2rem}
`;

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/login.css">
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

const alert = (error: string | undefined) =>
  error ? `<p class="error" role="alert" id="form-error">${escapeHtml(error)}</p>\n` : '';

export function signInPage(csrf: string, error?: string, username = ''): string {
  const described = error ? ' aria-describedby="form-error" aria-invalid="true"' : '';
  return page(
    'Sign in',
    `<h1>Sign in</h1>
${alert(error)}<form method="post" action="/login">
<input type="hidden" name="_csrf" value="${escapeHtml(csrf)}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" required value="${escapeHtml(username)}"${described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${described}>
<button type="submit">Sign in</button>
</form>`,
  );
}

function policyItems(policy: PasswordPolicy): string {
  const items = [`at least ${policy.minimumLength} characters`];
  if (policy.requireLowercase) items.push('a lowercase letter');
  if (policy.requireUppercase) items.push('an uppercase letter');
  if (policy.requireNumbers) items.push('a number');
  if (policy.requireSymbols) items.push('a special character');
  return items.map((i) => `<li>${escapeHtml(i)}</li>`).join('');
}

export function newPasswordPage(csrf: string, policy: PasswordPolicy, error?: string, username = ''): string {
  const described = ` aria-describedby="${error ? 'form-error ' : ''}password-rules"`;
  return page(
    'Change password',
    `<h1>Change password</h1>
<p>Please enter a new password to continue.</p>
${alert(error)}<form method="post" action="/login">
<input type="hidden" name="_csrf" value="${escapeHtml(csrf)}">
<input type="hidden" name="username" autocomplete="username" value="${escapeHtml(username)}">
<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required${described}>
<label for="confirm_password">Enter new password again</label>
<input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required>
<div id="password-rules"><p>The password must contain:</p><ul>${policyItems(policy)}</ul></div>
<button type="submit">Change password</button>
</form>`,
  );
}

export function errorPage(message: string): string {
  return page(
    'Error',
    `<h1>An error was encountered with the requested page.</h1>
<p class="error" role="alert">${escapeHtml(message)}</p>`,
  );
}
