/** An Azure AD-style failure of the identity endpoints (`{error, error_description: "AADSTSnnnn: …"}`). */
export class AadError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'AadError';
  }
}
