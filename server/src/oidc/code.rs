//! The agent's sign-in: the authorization code flow with PKCE.

use infra::secret::Secret;

use super::{AGENT_SCOPE, OidcClient, OidcError, TokenSet, wire};

impl OidcClient {
    /// Where to send the agent's browser to sign in (OIDC Core §3.1.2.1): the authorization
    /// code flow with PKCE S256 (RFC 7636), scope [`AGENT_SCOPE`].
    pub fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> String {
        let mut url = self.authorization.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.credentials.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", AGENT_SCOPE)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        url.into()
    }

    /// The code from the query of the redirect back to `redirect_uri`, after checking `state`
    /// and the issuer (RFC 9207).
    pub fn authorization_code(
        &self,
        query: &str,
        expected_state: &str,
    ) -> Result<Secret, OidcError> {
        wire::authorization_code(
            query,
            expected_state,
            &self.endpoints.issuer,
            self.iss_in_authorization_response,
        )
    }

    /// Exchanges an authorization code for tokens (RFC 6749 §4.1.3, RFC 7636 §4.5).
    pub async fn exchange_code(
        &self,
        code: &Secret,
        redirect_uri: &str,
        code_verifier: &Secret,
    ) -> Result<TokenSet, OidcError> {
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.expose().to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
            ("code_verifier", code_verifier.expose().to_owned()),
        ];
        wire::exchanged(
            &self
                .send("token", self.client_post(&self.endpoints.token, form))
                .await?,
        )
    }
}
