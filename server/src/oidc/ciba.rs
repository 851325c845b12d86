//! The CIBA calls: the backchannel request and the token polls.

use infra::secret::Secret;

use super::{
    BackchannelRequest, BackchannelStarted, OidcClient, OidcError, PollOutcome, endpoints, wire,
};
use crate::provider_client::SENDING_TIMEOUT;

impl OidcClient {
    /// Starts a backchannel authentication request (CIBA Core §7; Mosaic's step 3).
    ///
    /// The provider sends the SMS or email before it answers, so this call waits
    /// [`SENDING_TIMEOUT`], longer than the provider takes at most: the BFF never gives up on
    /// a request the provider then starts.
    pub async fn backchannel(
        &self,
        request: &BackchannelRequest,
    ) -> Result<BackchannelStarted, OidcError> {
        let params = wire::backchannel_params(self.profile, request)?;
        let answer = self
            .send_within(
                "backchannel",
                self.client_post(&self.endpoints.backchannel, params),
                SENDING_TIMEOUT,
            )
            .await?;
        wire::backchannel_started(&answer)
    }

    /// Polls the token endpoint once with the CIBA grant (CIBA Core §10.1; Mosaic's step 4).
    /// Honouring `interval` and `slow_down` is the caller's part.
    pub async fn poll(&self, auth_req_id: &Secret) -> PollOutcome {
        let form = vec![
            ("grant_type", endpoints::CIBA_GRANT.to_owned()),
            ("auth_req_id", auth_req_id.expose().to_owned()),
        ];
        match self
            .send("token", self.client_post(&self.endpoints.token, form))
            .await
        {
            Ok(answer) => wire::poll_outcome(&answer),
            Err(OidcError::Unavailable(why)) => PollOutcome::Unavailable(why),
            Err(other) => PollOutcome::Invalid(other.to_string()),
        }
    }
}
