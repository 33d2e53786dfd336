/** Close codes (RFC 6455 and its registry). */
export const CloseCode = { goingAway: 1001, policyViolation: 1008, tooLarge: 1009, tryAgainLater: 1013 } as const;
