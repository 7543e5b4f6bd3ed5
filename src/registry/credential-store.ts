/**
 * Where a registry's credentials live, as the docker CLI decides it: with the credential helper the
 * auth file names for that registry (credHelpers, else credsStore) when it names one, else in the file.
 *
 * A named helper is the only source for its registries: a secret still in the file is not read (docker
 * does the same), so a user who configured a helper never sends an old password by surprise. The server
 * URL a helper is asked about is the file's key for the registry (`host[:port]`, docker.io as
 * `https://index.docker.io/v1/`), the one docker asks about.
 */
import { credentialHelper, readCredentials, removeCredentials, storeCredentials, storeKey, type Credentials } from './authfile.ts';
import { CredentialHelper } from './credential-helper.ts';

function helperFor(authFile: string, registry: string): CredentialHelper | undefined {
  const name = credentialHelper(authFile, registry);
  return name ? new CredentialHelper(name) : undefined;
}

/** The credentials for a registry (or mirror) host, from its helper or the file; undefined when none. */
export async function lookupCredentials(authFile: string, registry: string): Promise<Credentials | undefined> {
  const helper = helperFor(authFile, registry);
  return helper ? helper.get(storeKey(registry)) : readCredentials(authFile, registry);
}

/**
 * Keeps credentials for a registry: through its helper, the file then holding an empty entry for it
 * (what docker writes), or in the file.
 */
export async function saveCredentials(authFile: string, registry: string, c: Credentials): Promise<void> {
  const helper = helperFor(authFile, registry);
  if (!helper) return storeCredentials(authFile, registry, c);
  await helper.store(storeKey(registry), c);
  storeCredentials(authFile, registry, undefined);
}

/** Forgets a registry's credentials in its helper and the file; false when neither held any. */
export async function eraseCredentials(authFile: string, registry: string): Promise<boolean> {
  const helper = helperFor(authFile, registry);
  const erased = helper ? await helper.erase(storeKey(registry)) : false;
  return removeCredentials(authFile, registry) || erased;
}
