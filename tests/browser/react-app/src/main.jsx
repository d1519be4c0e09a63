// The acceptance app for @asgardeo/auth-react (issue 14): sign in, show state.username, read
// /scim2/Me through httpRequest, and, with OIDC Session Management on, notice a sign-out made in
// another tab. Nothing here works around the SDK: it is configured as its README shows.
import { useState } from "react";
import { createRoot } from "react-dom/client";
import { AuthProvider, useAuthContext } from "@asgardeo/auth-react";

const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("base")) {
  sessionStorage.setItem("react-harness", JSON.stringify({ base: fragment.get("base"), client: fragment.get("client") }));
  history.replaceState(null, "", location.pathname);
}
const settings = JSON.parse(sessionStorage.getItem("react-harness") || "{}");

if (settings.base && window.parent === window) {
  // The check-session frame's answers to the SDK, for the test's log.
  const issuerOrigin = new URL(settings.base).origin;
  window.addEventListener("message", (e) => {
    if (e.origin === issuerOrigin && typeof e.data === "string") console.log("op-answer: " + e.data);
  });
}

function App() {
  const { state, signIn, signOut, httpRequest } = useAuthContext();
  const [me, setMe] = useState(null);

  const readMe = () =>
    httpRequest({ url: `${settings.base}/scim2/Me`, method: "GET", headers: { Accept: "application/scim+json" } }).then(
      (response) => setMe({ status: response.status, userName: response.data.userName, id: response.data.id }),
      (error) => setMe({ error: String(error && (error.message || error.code)) }),
    );

  const status = state.isLoading ? "loading" : state.isAuthenticated ? "signed-in" : "signed-out";
  return (
    <main>
      <p>
        Status: <span id="status">{status}</span>
      </p>
      <p>
        Signed in as <span id="username">{state.username || ""}</span>
      </p>
      <button id="signin" onClick={() => signIn()}>
        Sign in
      </button>{" "}
      <button id="signout" onClick={() => signOut()}>
        Sign out
      </button>{" "}
      <button id="me" onClick={readMe}>
        Read /scim2/Me
      </button>
      <pre id="me-result">{me ? JSON.stringify(me) : ""}</pre>
    </main>
  );
}

createRoot(document.getElementById("root")).render(
  <AuthProvider
    config={{
      clientID: settings.client,
      baseUrl: settings.base,
      signInRedirectURL: location.origin + location.pathname,
      signOutRedirectURL: location.origin + location.pathname,
      scope: ["openid", "internal_login"],
      storage: "sessionStorage",
      enableOIDCSessionManagement: true,
      checkSessionInterval: 1,
    }}
  >
    <App />
  </AuthProvider>,
);
