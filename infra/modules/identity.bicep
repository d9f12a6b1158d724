// One user-assigned identity per app, so that each can be granted exactly what it needs: every one pulls its image
// from the registry; Key Vault and Redis secrets are granted per secret where they are created (vault, redis).
param prefix string
param location string
param tags object

@description('The apps that get an identity.')
param apps array

resource identities 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = [for app in apps: {
  name: '${prefix}-${app}-identity'
  location: location
  tags: tags
}]

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: replace('${prefix}registry${uniqueString(resourceGroup().id)}', '-', '')
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: { adminUserEnabled: false }
}

var acrPullRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (app, i) in apps: {
  name: guid(registry.id, identities[i].id, acrPullRole)
  scope: registry
  properties: {
    roleDefinitionId: acrPullRole
    principalId: identities[i].properties.principalId
    principalType: 'ServicePrincipal'
  }
}]

@description('Per app: name, id (resource id), clientId, principalId.')
output identities array = [for (app, i) in apps: {
  name: app
  id: identities[i].id
  clientId: identities[i].properties.clientId
  principalId: identities[i].properties.principalId
}]
output registryServer string = registry.properties.loginServer
