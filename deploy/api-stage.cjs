'use strict';

/**
 * A Serverless Framework plugin of this repository: the REST API's stage as an
 * AWS::ApiGateway::Stage resource of the template, instead of the StageName of the framework's
 * AWS::ApiGateway::Deployment (whose settings the framework would apply with API calls after the
 * deploy, out of the template's sight). The stage carries custom.api's throttling (the stage's,
 * and each method's), JSON access logs without bodies, X-Ray tracing, CloudWatch metrics, and
 * execution logging off: the framework's REST API logs default to full execution data, which
 * would log request bodies (plaintext, data keys).
 */

/** The access log line: who, what, and how it went; never a body or a header's value. */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.caller',
  userArn: '$context.identity.userArn',
  // Every person of the upload page shares the people's role: the identity tells them apart.
  cognitoIdentityId: '$context.identity.cognitoIdentityId',
  cognitoAuthenticationProvider: '$context.identity.cognitoAuthenticationProvider',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integrationStatus',
  integrationError: '$context.integration.error',
  errorType: '$context.error.responseType',
  wafStatus: '$context.waf.status',
});

/**
 * A method's path in a MethodSettings entry: every `/` as `~1` after a leading `/`, e.g.
 * `/~1v1~1encrypt` (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigateway-stage-methodsetting.html).
 */
const methodPath = (path) => `/${path.replace(/\//g, '~1')}`;

class ApiStage {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'after:package:compileEvents': () => this.addStage() };
  }

  addStage() {
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    const api = this.serverless.service.custom.api;
    const ids = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::ApiGateway::Deployment');
    if (ids.length !== 1) throw new Error(`api-stage: expected one API deployment, found ${ids.length}`);
    const deployment = resources[ids[0]];
    const stageName = deployment.Properties.StageName;
    delete deployment.Properties.StageName;
    const number = (v, what) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0)
        throw new Error(`api-stage: ${what} must be a positive number, not ${v}`);
      return n;
    };
    const methods = Object.entries(api.methodThrottles ?? {}).map(([route, t]) => {
      const [method, path] = route.split(' ');
      return {
        HttpMethod: method,
        ResourcePath: methodPath(path),
        ThrottlingRateLimit: number(t.rate, `${route} rate`),
        ThrottlingBurstLimit: number(t.burst, `${route} burst`),
        LoggingLevel: 'OFF',
        DataTraceEnabled: false,
        MetricsEnabled: true,
      };
    });
    resources.ApiGatewayStage = {
      Type: 'AWS::ApiGateway::Stage',
      // Access logs need the account's CloudWatch role set first (ApiGatewayAccount in serverless.yml).
      DependsOn: ['ApiGatewayAccount'],
      Properties: {
        RestApiId: deployment.Properties.RestApiId,
        DeploymentId: { Ref: ids[0] },
        StageName: stageName,
        TracingEnabled: true,
        AccessLogSetting: {
          DestinationArn: { 'Fn::GetAtt': ['ApiAccessLogGroup', 'Arn'] },
          Format: ACCESS_LOG_FORMAT,
        },
        MethodSettings: [
          {
            HttpMethod: '*',
            ResourcePath: '/*',
            ThrottlingRateLimit: number(api.throttle.rate, 'throttle.rate'),
            ThrottlingBurstLimit: number(api.throttle.burst, 'throttle.burst'),
            LoggingLevel: 'OFF',
            DataTraceEnabled: false,
            MetricsEnabled: true,
          },
          ...methods,
        ],
      },
    };
    // What named the deployment's stage now waits for the stage.
    for (const resource of Object.values(resources))
      if (
        Array.isArray(resource.DependsOn) &&
        resource.DependsOn.includes(ids[0]) &&
        resource !== resources.ApiGatewayStage
      )
        resource.DependsOn.push('ApiGatewayStage');
  }
}

module.exports = ApiStage;
module.exports.ACCESS_LOG_FORMAT = ACCESS_LOG_FORMAT;
