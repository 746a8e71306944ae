// Configuration of the web example when it is served next to a deployed stack (make run generates its own).
// Fill in the stack's outputs; add the page's origin to the stack's corsOrigins (cdk deploy -c corsOrigins=...).
window.AGORA_SERVERLESS_CONFIG = {
  apiUrl: "https://<api-id>.execute-api.<region>.amazonaws.com",
  // "oidc": authorization code + PKCE against any OIDC issuer (Cognito's hosted UI included)
  signIn: "oidc",
  oidc: {
    authorizeUrl: "https://<your-domain>.auth.<region>.amazoncognito.com/oauth2/authorize",
    tokenUrl: "https://<your-domain>.auth.<region>.amazoncognito.com/oauth2/token",
    clientId: "<UserPoolClientId output>",
    scope: "openid email profile",
  },
  groupsClaim: "cognito:groups",
  publisherGroup: "hosts", // members get "publisher" preselected; everyone else "subscriber"
  adminGroup: "admins",
  renewBeforeSeconds: 30,
  // a real Agora App ID: show "Join the call" (the Agora Web SDK joins with the minted token)
  realAgora: false,
  agoraAppId: "",
};
